/**
 * The analysis pass's encoder as an ONNX graph run in the session pool: a chunk of harvested rows
 * in, each row's active features out as sparse (value, index) pairs, plus exact per-feature
 * counts, sums, maxima and image-token mass from the dense codes. The encoder itself is
 * core/sae/sae-graph.ts, the same nodes the SAE edit uses. For TopK SAEs it also returns each row's
 * k-th largest pre-activation, which lets a feature page recompute one feature's activation on any
 * row from that feature's encoder column alone.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { floatTensor, graph, int64Tensor, model, node, valueInfo } from '../onnx/builder.js';
import { encodeModel, type ModelProto, type NodeProto } from '../onnx/model-io.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { DataType } from '../onnx/schema.js';
import { SaeGraph } from '../sae/sae-graph.js';
import type { SaeWeights } from '../sae/sae-model.js';
import { layoutOf } from '../store/layout.js';

const F = DataType.FLOAT;

/** Active features kept per row for ReLU / JumpReLU SAEs (rows with more are counted as truncated). */
export const MAX_ACTIVE_PER_ROW = 256;

export function activePerRow(sae: SaeWeights): number {
  return sae.architecture === 'topk' ? sae.k! : Math.min(MAX_ACTIVE_PER_ROW, sae.dSae);
}

export function analysisEncodeGraph(sae: SaeWeights): ModelProto {
  const kk = activePerRow(sae);
  const sg = new SaeGraph(sae, 'sae');
  const { pre, gate } = sg.encodePre('x');
  const nodes: NodeProto[] = [];
  const n = (op: string, inputs: string[], outputs: string[], attrs: Record<string, number | number[]> = {}) =>
    nodes.push(node(op, inputs, outputs, `enc/${outputs[0]}`, attrs));
  if (sae.architecture === 'topk') {
    n('TopK', [pre, 'kk'], ['top_pre', 'idx'], { axis: -1, largest: 1, sorted: 1 });
    n('Relu', ['top_pre'], ['vals']);
    n('ReduceMin', ['top_pre', 'axis1'], ['kth'], { keepdims: 0 });
  } else {
    const z = sg.activate(pre, gate);
    n('Identity', [z], ['z']);
    n('TopK', ['z', 'kk'], ['vals', 'idx'], { axis: -1, largest: 1, sorted: 1 });
    n('ReduceMin', ['vals', 'axis1'], ['kth_any'], { keepdims: 0 });
    n('Mul', ['kth_any', 'zero'], ['kth']);
  }
  n('Cast', ['idx'], ['idx32'], { to: DataType.INT32 });
  // A TopK row's sparse output is complete, so per-feature sums come from it (in the accumulator);
  // other architectures reduce their dense codes here, exactly, whatever fits in the sparse output.
  const dense = sae.architecture !== 'topk';
  if (dense) {
    n('Greater', ['z', 'zero'], ['fires']);
    n('Cast', ['fires'], ['fires_f'], { to: F });
    n('ReduceSum', ['fires_f', 'axis0'], ['count'], { keepdims: 0 });
    n('ReduceSum', ['z', 'axis0'], ['sum'], { keepdims: 0 });
    n('ReduceMax', ['z', 'axis0'], ['max'], { keepdims: 0 });
    n('MatMul', ['img', 'z'], ['image_sum_2d']);
    n('Reshape', ['image_sum_2d', 'flat'], ['image_sum']);
  }
  const inits = [
    ...sg.weights.map((w) => floatTensor(w.name, w.dims, w.data)),
    ...sg.ints.map((c) => int64Tensor(c.name, [c.values.length], c.values)),
    int64Tensor('kk', [1], [kk]),
    int64Tensor('axis0', [1], [0]),
    int64Tensor('axis1', [1], [1]),
    int64Tensor('flat', [1], [-1]),
    floatTensor('zero', [], [0]),
  ];
  const all = [...sg.nodes, ...nodes];
  const used = new Set(all.flatMap((x) => x.input));
  return model(
    graph(
      'sae_analysis_encode',
      all,
      [valueInfo('x', F, ['rows', sae.dIn]), ...(dense ? [valueInfo('img', F, [1, 'rows'])] : [])],
      [
        valueInfo('vals', F, ['rows', kk]),
        valueInfo('idx32', DataType.INT32, ['rows', kk]),
        valueInfo('kth', F, ['rows']),
        ...(dense ? ['count', 'sum', 'max', 'image_sum'].map((o) => valueInfo(o, F, [sae.dSae])) : []),
      ],
      inits.filter((t) => used.has(t.name)),
    ),
    18,
  );
}

/** The encoder graph written once into the workspace's graph cache (named by its content hash), for the session pool. */
export function encodeGraphFile(workspaceDir: string, sae: SaeWeights): string {
  const bytes = encodeModel(analysisEncodeGraph(sae));
  const file = path.join(
    layoutOf(workspaceDir).graphCache,
    `sae-analysis-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.onnx`,
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!fs.existsSync(file)) writeFileAtomic(file, bytes);
  return file;
}
