/**
 * The optimised session of the runtime cross-check, in a child process: onnxruntime-node can abort the whole process
 * (a C++ assertion) while optimising some graphs (an int4 DequantizeLinear → Transpose → MatMul did under 'all' in
 * 1.30), and that must end the cross-check, not quant-audit. Protocol (IPC, advanced serialization): the parent sends
 * { path | bytes, feeds: { name: { type, data, dims } }, ep }; the child answers { outputs: { name: Float32Array } } or
 * { error: message } and exits.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

interface Request {
  path?: string;
  bytes?: Uint8Array;
  feeds: Record<string, { type: ort.Tensor.Type; data: ort.Tensor.DataType; dims: number[] }>;
  ep: 'cpu' | 'cuda';
}

process.once('message', (m: Request) => {
  void (async () => {
    try {
      const bytes = m.bytes ?? readFileSync(m.path!);
      const session = await ort.InferenceSession.create(bytes, { executionProviders: [m.ep], graphOptimizationLevel: 'all', logSeverityLevel: 4 });
      const feeds = Object.fromEntries(Object.entries(m.feeds).map(([k, t]) => [k, new ort.Tensor(t.type, t.data, t.dims)]));
      const out = await session.run(feeds);
      const outputs: Record<string, Float32Array> = {};
      for (const [k, t] of Object.entries(out)) if (t.type === 'float32') outputs[k] = t.data as Float32Array;
      await session.release();
      process.send!({ outputs }, () => process.exit(0));
    } catch (e) {
      process.send!({ error: (e as Error).message.replace(/\s+/g, ' ').trim() }, () => process.exit(0));
    }
  })();
});
