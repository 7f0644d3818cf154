/**
 * `quant-audit run` — the main job: every probe on every format of one target, plus the
 * learnability lanes, then report.json/.md/.xml under --out and an exit code for CI.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { RunFlags } from '../run/plan.js';
import { dirsCreatedSince, listDir, newRunId, writeRunReport, writtenFilesNote } from '../report/write.js';
import { renderTerminal } from '../report/terminal.js';
import { appendStepSummary } from '../report/summary.js';
import { renderMarkdown } from '../report/markdown.js';
import { serializeReport } from '../report/json.js';
import { useColor } from '../color.js';
import { FAIL_ON_LEVELS } from '../report/types.js';
import { criticalSection, installInterruptHandlers } from '../process/interrupt.js';
import { DEFAULTS, OPTIMIZERS } from '../run/defaults.js';
import { DEFAULT_LR } from '../train/settings.js';

/** The exit codes every command shares (README "Exit codes", docs/reports.md). */
const EXIT_CODES_HELP = `Exit codes:
  0    nothing at or above --fail-on
  1    falsified: a witness at or above --fail-on
  2    usage, config or input error (the message names the input)
  3    inconclusive: the fp32 control did not learn, or the target or environment failed
  130  interrupted (143 for SIGTERM); nothing half-written`;

const RUN_EXAMPLES = `Examples:
  $ quant-audit run --all                                    every probe × every format on the reference, + the lanes
  $ quant-audit run --target tfjs:./fake-quant.mjs --format int8 nf4 --probe broken-ste lost-updates`;

export function registerRun(program: Command): void {
  const d = DEFAULTS;
  program
    .command('run')
    .description('run probes and learnability lanes on a target and write an evidence report')
    .option('--all', 'every probe and every built-in format (the default without config or flags)')
    .option('--target <spec>', `reference | mutant:NAME | tfjs:PATH | onnx:PATH | exec:COMMAND | python:PATH.py:FUNCTION (default: ${d.target})`)
    .option('--probe <id...>', 'probe ids, space- or comma-separated (default: every probe, + learnability)')
    .option('--format <name...>', 'format names, space- or comma-separated (default: every format the target supports; `quant-audit formats` lists them)')
    .option('--optimizer <name...>', `lane optimizers (default: ${OPTIMIZERS.join(' ')})`)
    .option('--seed <n...>', `seeds (default: ${d.seeds.join(' ')})`)
    .option('--lr <x...>', `learning rates for the lanes and lost-updates (default: lanes ${DEFAULT_LR}, lost-updates ${d.probeLrs.join(' ')})`)
    .option('--steps <n>', `training steps per lane (default: ${d.steps})`)
    .option('--corpus <path|builtin:NAME>', `builtin:english | builtin:markov | a text file (default: ${d.corpus})`)
    .addOption(new Option('--backend <name>', `tfjs backend (default: ${d.backend})`).choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .addOption(new Option('--ep <name>', `ONNX Runtime execution provider (default: ${d.ep})`).choices(['cpu', 'cuda']))
    .option('--config <file>', 'config file (default: ./quant-audit.yaml when present)')
    .option('--out <dir>', `where run directories go (default: ${d.out}/)`)
    .addOption(new Option('--fail-on <level>', `exit 1 at or above this level (default: ${d.failOn})`).choices([...FAIL_ON_LEVELS]))
    .option('--shard <i/n>', 'run a deterministic 1/N of the probe × format and lane matrix (1-based)')
    .option('--no-master-weights', 'round weights in place after every step (reproduces the lost-updates bug)')
    .option('--input <file>', 'ONNX: model inputs as .json or .npy (default: seeded inputs from declared shapes)')
    .option('--float-model <file>', 'ONNX: the float model the quantized one was made from (per-weight and per-output SQNR)')
    .addOption(new Option('--onnx-mode <mode>', 'ONNX: quantizer (y = fq(x): forward probes and lanes run on it), model (QDQ site audit only), or auto').choices(['auto', 'quantizer', 'model']))
    .option('--workers <n>', 'training threads: the main thread plus n − 1 workers (default: number of cores)')
    .option('--timeout-ms <n>', 'exec: per-request timeout')
    .option('--python <path>', 'python: the interpreter (default: $QUANT_AUDIT_PYTHON, else the first python3 on PATH that can load the module)')
    .addOption(new Option('--python-api <api>', 'python: hand the function torch tensors or NumPy arrays (default: detected)').choices(['auto', 'torch', 'numpy']))
    .option('--json', 'also print report.json on stdout (tables go to stderr)')
    .option('--quiet', 'print only the verdict line')
    .option('--dry-run', 'check flags and config and print what would run; run nothing')
    .addHelpText('after', `\n${RUN_EXAMPLES}\n\n${EXIT_CODES_HELP}\n`)
    .action(async (flags: RunFlags & { dryRun?: boolean }) => {
      // Loaded here, not at start-up: they pull in tfjs, which other commands do not need.
      const { buildPlan, describePlan } = await import('../run/plan.js');
      const plan = buildPlan(flags);
      if (flags.dryRun) {
        process.stdout.write(describePlan(plan));
        return;
      }
      const { executePlan } = await import('../run/execute.js');
      const { laneProgressFor } = await import('../train/progress.js');
      const err = process.stderr;
      const human = plan.json ? err : process.stdout;
      const progress = plan.quiet ? undefined : laneProgressFor(err);
      let uninstall: (() => void) | undefined;
      try {
        const report = await executePlan(
          plan,
          {
            log: (m) => {
              if (!plan.quiet) err.write(`${m}\n`);
            },
            onLaneProgress: progress ? (p) => progress.update(p) : undefined,
            // Installed once the target is open: until then nothing needs cleaning up, and Node's
            // default signal action still works if loading a module blocks the thread.
            onTargetOpen: () => {
              uninstall = installInterruptHandlers({ write: (m) => { progress?.stop(); err.write(m); } });
            },
          },
          process.argv.slice(2),
        );
        progress?.stop();
        const started = new Date(report.run.startedAt);
        report.run.id = newRunId(started, plan.target);
        const before = listDir(plan.out);
        const written = await criticalSection(() => writeRunReport(report, plan.out), () => dirsCreatedSince(plan.out, before));
        if (plan.quiet) {
          human.write(`${report.verdict.summary}\n`);
        } else {
          human.write(renderTerminal(report, { color: useColor(human), compact: !human.isTTY }));
          human.write(writtenFilesNote(written));
        }
        if (plan.json) process.stdout.write(serializeReport(report));
        appendStepSummary(renderMarkdown(report));
        process.exitCode = report.verdict.exitCode;
      } finally {
        uninstall?.();
      }
    });
}
