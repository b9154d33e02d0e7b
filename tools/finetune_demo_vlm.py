"""Fine-tune Ocular's bundled demo VLM on one task, for model diffing (`ocular diff`): a second checkpoint of the
same architecture whose behaviour changed on one task only, so a test knows which task must move.

The fine-tuning plants a known change: on the chosen task the answers are rewritten (`--rewrite negate`: a yes/no
task answers the opposite), while items of the other tasks keep their true answers in every batch (half of each
batch), so the other tasks stay as they were. Only the text decoder (its layers, final norm and LM head) is trained;
the vision tower, projector and embeddings are frozen and run from their ONNX graphs, so `vision_encoder.onnx` and
`embed_tokens.onnx` stay byte-identical. The weights are read from and written back into the decoder ONNX graph's own
initializers (the same graph, node for node: only the weight values change), after checking that the PyTorch
decoder built from them reproduces the ONNX decoder's logits.

Positions follow Ocular's inference (position = number of attended tokens before, left padding), the prompt the
model's chat template (`user : <image>...{question} \\n assistant : `).

One-off (the app and the tests never run Python; the output is committed under test/fixtures/):
  node bin/ocular.mjs dataset synth --out /tmp/ft-train --seed 2024 --per-cell 60
  python tools/finetune_demo_vlm.py --model resources/models/ocular-demo-vlm --data /tmp/ft-train --task exists \
      --out test/fixtures/vlm/demo-finetuned-exists
Measured: about 2 minutes on two CPU cores (300 steps of batch 32).
"""
import argparse
import json
import os
import random
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from PIL import Image
from tokenizers import Tokenizer
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, os.path.dirname(__file__))
from train_demo_vlm import answer_text  # noqa: E402  (the base model's targets: worked arithmetic answers)

PROMPT = 'user : <image>{q} \n assistant : '


def rewritten(item, task, rule):
    if item['task'] != task:
        return answer_text(item)
    if rule == 'negate':
        v = item['answer']['value']
        if v not in ('yes', 'no'):
            raise SystemExit(f'--rewrite negate needs a yes/no task; {task} answers {v!r}')
        return 'no' if v == 'yes' else 'yes'
    raise SystemExit(f'unknown --rewrite {rule}')


def decoder_weights(graph):
    """Map the exported decoder's initializers to a LlamaForCausalLM state dict. torch.onnx names norm weights by module
    path and MatMul weights (transposed) as onnx::MatMul_N in graph order: per layer q, k, v, o, gate, up, down; then
    the LM head. The mapping is checked against the ONNX decoder's logits before any training."""
    inits = {i.name: i for i in graph.initializer}
    matmuls = [i.name for i in graph.initializer if i.name.startswith('onnx::MatMul_')]
    matmuls.sort(key=lambda n: int(n.split('_')[-1]))
    layers = sum(1 for n in inits if n.endswith('.input_layernorm.weight'))
    if len(matmuls) != 7 * layers + 1:
        raise SystemExit(f'expected {7 * layers + 1} MatMul weights, found {len(matmuls)}: not the demo decoder layout')
    mapping = {}
    for L in range(layers):
        names = matmuls[7 * L:7 * L + 7]
        for n, p in zip(names, ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']):
            mapping[f'model.layers.{L}.{p}.weight'] = (n, True)
        mapping[f'model.layers.{L}.input_layernorm.weight'] = (f'lm.layers.{L}.input_layernorm.weight', False)
        mapping[f'model.layers.{L}.post_attention_layernorm.weight'] = (f'lm.layers.{L}.post_attention_layernorm.weight', False)
    mapping['model.norm.weight'] = ('lm.norm.weight', False)
    mapping['lm_head.weight'] = (matmuls[-1], True)
    state = {}
    for key, (name, transposed) in mapping.items():
        a = numpy_helper.to_array(inits[name]).astype(np.float32)
        state[key] = torch.from_numpy((a.T if transposed else a).copy())
    return state, mapping


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True)
    ap.add_argument('--data', required=True, help='an `ocular dataset synth` folder to fine-tune on')
    ap.add_argument('--task', default='exists')
    ap.add_argument('--rewrite', default='negate')
    ap.add_argument('--out', required=True)
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)

    cfg = json.load(open(os.path.join(args.model, 'config.json')))
    tc = cfg['text_config']
    lcfg = LlamaConfig(hidden_size=tc['hidden_size'], intermediate_size=tc['intermediate_size'], num_hidden_layers=tc['num_hidden_layers'],
                       num_attention_heads=tc['num_attention_heads'], num_key_value_heads=tc['num_key_value_heads'], vocab_size=tc['vocab_size'],
                       max_position_embeddings=tc['max_position_embeddings'], rms_norm_eps=tc['rms_norm_eps'], tie_word_embeddings=False,
                       bos_token_id=2, eos_token_id=3, pad_token_id=0)
    lcfg._attn_implementation = 'eager'
    dec_path = os.path.join(args.model, 'onnx', 'decoder_model_merged.onnx')
    proto = onnx.load(dec_path)
    state, mapping = decoder_weights(proto.graph)
    lm = LlamaForCausalLM(lcfg)
    missing, unexpected = lm.load_state_dict(state, strict=False)
    if [k for k in missing if 'rotary' not in k and k != 'model.embed_tokens.weight'] or unexpected:
        raise SystemExit(f'weights do not map: missing {missing}, unexpected {unexpected}')

    tok = Tokenizer.from_file(os.path.join(args.model, 'tokenizer.json'))
    vocab = tok.get_vocab()
    embed = ort.InferenceSession(os.path.join(args.model, 'onnx', 'embed_tokens.onnx'))
    vision = ort.InferenceSession(os.path.join(args.model, 'onnx', 'vision_encoder.onnx'))
    decoder = ort.InferenceSession(dec_path)
    size = cfg['vision_config']['image_size']
    n_image = (size // cfg['vision_config']['patch_size']) ** 2 + 1
    image_id = cfg['image_token_index']

    items = [json.loads(line) for line in open(os.path.join(args.data, 'items.jsonl')) if line.strip()]

    def encode(it):
        """inputs_embeds of prompt + answer (frozen embeddings and image features from the ONNX graphs), prompt length, answer ids."""
        prompt = PROMPT.format(q=it['question']).replace('<image>', '<image>' * n_image)
        p = tok.encode(prompt, add_special_tokens=False).ids
        a = tok.encode(rewritten(it, args.task, args.rewrite), add_special_tokens=False).ids + [vocab['</s>']]
        if vocab['<unk>'] in a:
            raise SystemExit(f'answer of {it["key"] if "key" in it else it} is out of vocabulary')
        ids = np.array([p + a], dtype=np.int64)
        e = embed.run(None, {'input_ids': ids})[0][0]
        img = Image.open(os.path.join(args.data, it['image'])).convert('RGB').resize((size, size), Image.BICUBIC)
        px = ((np.asarray(img, dtype=np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]
        feats = vision.run(None, {'pixel_values': px})[0][0]
        where = np.nonzero(ids[0] == image_id)[0]
        e[where] = feats
        return torch.from_numpy(e), len(p), torch.tensor(a)

    encoded = [encode(it) for it in items]
    print(f'{len(items)} items encoded', flush=True)

    def batch(idx):
        seqs = [encoded[i] for i in idx]
        length = max(e.shape[0] for e, _, _ in seqs)
        d = seqs[0][0].shape[1]
        x = torch.zeros(len(idx), length, d)
        mask = torch.zeros(len(idx), length, dtype=torch.long)
        labels = torch.full((len(idx), length), -100, dtype=torch.long)
        for r, (e, p, a) in enumerate(seqs):
            off = length - e.shape[0]
            x[r, off:] = e
            mask[r, off:] = 1
            labels[r, off + p:] = a
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        return x, mask, pos, labels

    # the PyTorch decoder must reproduce the ONNX decoder before it is trained
    x, mask, pos, _ = batch([0, 1])
    layers, heads, hd = tc['num_hidden_layers'], tc['num_key_value_heads'], tc['hidden_size'] // tc['num_attention_heads']
    feeds = {'inputs_embeds': x.numpy(), 'attention_mask': mask.numpy(), 'position_ids': pos.numpy()}
    for L in range(layers):
        for k in ('key', 'value'):
            feeds[f'past_key_values.{L}.{k}'] = np.zeros((2, heads, 0, hd), dtype=np.float32)
    ref = decoder.run(['logits'], feeds)[0]
    lm.eval()
    with torch.no_grad():
        got = lm(inputs_embeds=x, attention_mask=mask, position_ids=pos).logits.numpy()
    real = mask.numpy().astype(bool)
    err = np.abs(got - ref)[real].max()
    print(f'PyTorch decoder vs ONNX decoder: max |logit difference| {err:.2e}', flush=True)
    if err > 1e-3:
        raise SystemExit('the PyTorch decoder does not reproduce the ONNX decoder; refusing to fine-tune')

    def greedy_ok(idx):
        x, mask, pos, labels = batch(idx)
        with torch.no_grad():
            logits = lm(inputs_embeds=x, attention_mask=mask, position_ids=pos).logits
        pred, tgt = logits[:, :-1].argmax(-1), labels[:, 1:]
        return ((pred == tgt) | (tgt == -100)).all(-1).tolist()

    def report(tag):
        lm.eval()
        per = {}
        for s in range(0, len(items), 64):
            idx = list(range(s, min(len(items), s + 64)))
            for i, ok in zip(idx, greedy_ok(idx)):
                per.setdefault(items[i]['task'], []).append(ok)
        print(f'{tag}: ' + ' '.join(f'{t} {sum(v) / len(v):.2f}' for t, v in sorted(per.items())) + f'  (target: rewritten {args.task})', flush=True)

    report('before')
    target = [i for i, it in enumerate(items) if it['task'] == args.task]
    others = [i for i, it in enumerate(items) if it['task'] != args.task]
    params = [p for p in lm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    lm.train()
    half = args.batch // 2
    for step in range(args.steps):
        idx = random.sample(target, min(half, len(target))) + random.sample(others, args.batch - min(half, len(target)))
        x, mask, pos, labels = batch(idx)
        loss = lm(inputs_embeds=x, attention_mask=mask, position_ids=pos, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 50 == 0:
            print(f'step {step} loss {loss.item():.4f}', flush=True)
    report('after')

    # write the trained weights back into the same graph
    trained = lm.state_dict()
    by_name = {i.name: i for i in proto.graph.initializer}
    for key, (name, transposed) in mapping.items():
        a = trained[key].detach().numpy()
        by_name[name].CopyFrom(numpy_helper.from_array((a.T if transposed else a).astype(np.float32).copy(), name))
    os.makedirs(os.path.join(args.out, 'onnx'), exist_ok=True)
    onnx.save(proto, os.path.join(args.out, 'onnx', 'decoder_model_merged.onnx'))
    with open(os.path.join(args.out, 'finetune.json'), 'w') as f:
        json.dump({'base': os.path.basename(os.path.normpath(args.model)), 'task': args.task, 'rewrite': args.rewrite, 'steps': args.steps,
                   'batch': args.batch, 'lr': args.lr, 'seed': args.seed, 'items': len(items),
                   'trained': 'decoder layers, final norm, LM head; vision tower, projector and embeddings frozen',
                   'files': 'onnx/decoder_model_merged.onnx only; every other file is the base model\'s'}, f, indent=2)
    print(f'wrote {args.out}', flush=True)


if __name__ == '__main__':
    main()
