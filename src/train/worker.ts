/**
 * Worker-thread entry: one tfjs engine, one opened target, lanes trained on request.
 * Protocol (parent → worker): {type:'lane', spec} | {type:'close'}
 *          (worker → parent): {type:'ready', backend} | {type:'eval', name, step, bpb}
 *                             | {type:'done', outcome} | {type:'error', message, usage}
 */
import { parentPort, workerData } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import { LaneRunner, type RunnerInit } from './runner.js';
import type { LaneOutcome, LaneSpec } from './lane.js';

export type ToWorker = { type: 'lane'; spec: LaneSpec } | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'eval'; name: string; step: number; bpb: number }
  | { type: 'done'; outcome: LaneOutcome }
  | { type: 'error'; message: string; usage: boolean };

const port = parentPort;
if (port) {
  const post = (m: FromWorker): void => port.postMessage(m);
  const fail = (e: unknown): void => post({ type: 'error', message: e instanceof Error ? e.message : String(e), usage: e instanceof UsageError });
  LaneRunner.open(workerData as RunnerInit).then(
    (runner) => {
      post({ type: 'ready', backend: runner.backend });
      port.on('message', (msg: ToWorker) => {
        if (msg.type === 'close') {
          runner.close().finally(() => port.close());
          return;
        }
        runner.run(msg.spec, (step, bpb) => post({ type: 'eval', name: msg.spec.name, step, bpb })).then((outcome) => post({ type: 'done', outcome }), fail);
      });
    },
    (e) => {
      fail(e);
      port.close();
    },
  );
}
