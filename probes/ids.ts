/**
 * The probe ids (stable API), in the order probes run and results render: the one list.
 * `ProbeId` is derived from it; probes/index.ts maps every id but learnability to its module
 * (the compiler checks the map is complete); the report's canonical order reads it.
 */
export const PROBE_IDS = ['roundtrip', 'missing-dequant', 'scale-collapse', 'broken-ste', 'lost-updates', 'format-applied', 'learnability'] as const;

export type ProbeId = (typeof PROBE_IDS)[number];

/** The training probe: run by `quant-audit run` as lanes, not per format like the others. */
export const LEARNABILITY_ID = 'learnability' satisfies ProbeId;
