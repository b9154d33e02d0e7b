"""Train Ocular's bundled demo VLM on the synthetic benchmark and export it to resources/models/ocular-demo-vlm.

A LLaVA-style model (CLIP-style vision tower, linear projector, Llama-style decoder), small enough to
ship (< 25 MB per file) and run on a laptop CPU, trained on `ocular dataset synth` data so its
internals carry real structure (colours, shapes, counts, positions) for SAEs to find.

Re-run (one-off; the app never needs Python):
  node bin/ocular.mjs dataset synth --out /tmp/ocular-train --seed 1001 --per-cell 1200
  tools/.venv/bin/python tools/train_demo_vlm.py --data /tmp/ocular-train --out resources/models/ocular-demo-vlm --minutes 25
Then measure it with Ocular's own harness on held-out items (a different seed):
  node bin/ocular.mjs dataset synth --out /tmp/ocular-heldout --seed 7 --per-cell 40
  node bin/ocular.mjs eval --model resources/models/ocular-demo-vlm --dataset /tmp/ocular-heldout
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

import numpy as np
import torch
from PIL import Image
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, PreTrainedTokenizerFast

sys.path.insert(0, os.path.dirname(__file__))
from export_tiny_vlms import CHAT_TEMPLATE, export_llava_folder  # noqa: E402

SPECIALS = ['<pad>', '<unk>', '<s>', '</s>', '<image>']
PROMPT = 'user : <image>{q} \n assistant : '


def vocabulary(items):
    words = set(['user', ':', 'assistant', '?'])
    for it in items:
        words.update(it['question'].replace('?', ' ? ').split())
        words.add(str(it['answer']['value']))
    for n in range(1, 13):
        for k in range(0, n + 1):
            words.add(str(round(k / n, 3)).rstrip('0').rstrip('.') if k not in (0, n) else str(k // n))
    words.update(str(i) for i in range(0, 21))
    return SPECIALS + sorted(words - set(SPECIALS))


def answer_text(answer):
    v = answer['value']
    if answer['type'] == 'float':
        return json.dumps(v)
    return str(v)


def build_tokenizer(vocab_words, out):
    vocab = {w: i for i, w in enumerate(vocab_words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token='<unk>'))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split('?', 'isolated')])
    tok.decoder = decoders.WordPiece(prefix='##', cleanup=False)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
    tok.save(os.path.join(out, 'tokenizer.json'))
    template = CHAT_TEMPLATE.replace('{{ image_marker }}', '<image>')
    with open(os.path.join(out, 'chat_template.jinja'), 'w') as f:
        f.write(template)
    with open(os.path.join(out, 'tokenizer_config.json'), 'w') as f:
        json.dump({'tokenizer_class': 'PreTrainedTokenizerFast', 'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>', 'pad_token': '<pad>',
                   'padding_side': 'left', 'chat_template': template, 'model_max_length': 512,
                   'added_tokens_decoder': {str(i): {'content': t, 'special': True, 'lstrip': False, 'rstrip': False, 'normalized': False, 'single_word': False}
                                            for i, t in enumerate(SPECIALS)}}, f, indent=2)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token='<s>', eos_token='</s>', unk_token='<unk>', pad_token='<pad>', padding_side='left')
    fast.chat_template = template
    return fast, vocab


def load_items(data_dir):
    with open(os.path.join(data_dir, 'items.jsonl')) as f:
        return [json.loads(line) for line in f if line.strip()]


def pixels(data_dir, image, size):
    a = np.asarray(Image.open(os.path.join(data_dir, image)).convert('RGB').resize((size, size)), dtype=np.float32) / 255.0
    return torch.from_numpy(((a - 0.5) / 0.5).transpose(2, 0, 1).copy())


SHAPE_CLASSES = ['background', 'circle', 'square', 'triangle', 'diamond']
COLOR_CLASSES = ['background', 'red', 'green', 'blue', 'yellow', 'purple', 'orange']


def patch_labels(scene, size, patch):
    """Per-patch ground truth (colour, shape) of the object under each patch centre, or background.

    Dense supervision of the vision tower from the benchmark's scene annotations: it learns colour
    and shape per patch quickly, which the language model can then read (and which SAEs on the
    vision tower can find). The auxiliary heads are dropped at export.
    """
    side = size // patch
    colours = np.zeros(side * side + 1, dtype=np.int64)  # slot 0: the CLS token, no label
    shapes = np.zeros(side * side + 1, dtype=np.int64)
    for row in range(side):
        for col in range(side):
            cx, cy = col * patch + patch / 2, row * patch + patch / 2
            for o in scene['objects']:
                x, y, w, h = o['bbox']
                if x <= cx <= x + w and y <= cy <= y + h:
                    colours[1 + row * side + col] = COLOR_CLASSES.index(o['color'])
                    shapes[1 + row * side + col] = SHAPE_CLASSES.index(o['shape'])
    return colours, shapes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--minutes', type=float, default=25)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--checkpoint', help='save model, auxiliary heads and optimiser state here at the end (to continue later)')
    parser.add_argument('--resume', help='continue from a --checkpoint file')
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    items = load_items(args.data)
    meta = json.load(open(os.path.join(args.data, 'dataset.json')))
    size = meta['imageSize']
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, 'onnx'))
    fast, vocab = build_tokenizer(vocabulary(items), out)
    patch = 12
    vc = CLIPVisionConfig(hidden_size=128, intermediate_size=384, num_hidden_layers=3, num_attention_heads=4, image_size=size, patch_size=patch, projection_dim=128)
    tc = LlamaConfig(hidden_size=128, intermediate_size=384, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, vocab_size=len(vocab),
                     max_position_embeddings=256, bos_token_id=2, eos_token_id=3, pad_token_id=0, tie_word_embeddings=False)
    cfg = LlavaConfig(vision_config=vc, text_config=tc, image_token_index=vocab['<image>'], vision_feature_layer=-1, vision_feature_select_strategy='full',
                      projector_hidden_act='gelu')
    for c in (cfg, cfg.text_config, cfg.vision_config):
        c._attn_implementation = 'eager'
    model = LlavaForConditionalGeneration(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'{len(items)} training items, vocab {len(vocab)}, {n_params / 1e6:.2f}M parameters', flush=True)

    n_image = (size // patch) ** 2 + 1
    image_tokens = '<image>' * n_image

    def encode(it):
        prompt = PROMPT.format(q=it['question']).replace('<image>', image_tokens)
        p_ids = fast(prompt, add_special_tokens=False)['input_ids']
        a_ids = fast(answer_text(it['answer']), add_special_tokens=False)['input_ids'] + [vocab['</s>']]
        return p_ids, a_ids

    encoded = [encode(it) for it in items]
    assert all(vocab['<unk>'] not in a for _, a in encoded), 'an answer is out of vocabulary'
    labels_aux = [patch_labels(it['scene'], size, patch) for it in items]
    aux_colour = torch.nn.Linear(vc.hidden_size, len(COLOR_CLASSES))
    aux_shape = torch.nn.Linear(vc.hidden_size, len(SHAPE_CLASSES))
    captured = {}
    model.model.vision_tower.register_forward_hook(lambda _m, _i, out: captured.__setitem__('hidden', out.hidden_states[-1]))
    order = list(range(len(items)))
    params = list(model.parameters()) + list(aux_colour.parameters()) + list(aux_shape.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    resumed_steps = 0
    if args.resume:
        state = torch.load(args.resume, weights_only=True)  # tensors only: never unpickle code
        model.load_state_dict(state['model'])
        aux_colour.load_state_dict(state['aux_colour'])
        aux_shape.load_state_dict(state['aux_shape'])
        opt.load_state_dict(state['opt'])
        resumed_steps = int(state['step'])
        print(f'resumed from {args.resume} at step {resumed_steps}', flush=True)
    deadline = time.time() + args.minutes * 60
    started = time.time()
    est_steps = max(1000, int(args.minutes * 60 / 0.3))  # refined from the measured step time below
    step = 0
    model.train()
    while time.time() < deadline:
        random.shuffle(order)
        for start in range(0, len(order) - args.batch + 1, args.batch):
            if time.time() >= deadline:
                break
            idx = order[start:start + args.batch]
            seqs = [encoded[i][0] + encoded[i][1] for i in idx]
            length = max(len(s) for s in seqs)
            ids = torch.zeros(len(idx), length, dtype=torch.long)
            labels = torch.full((len(idx), length), -100, dtype=torch.long)
            mask = torch.zeros(len(idx), length, dtype=torch.long)
            for r, i in enumerate(idx):
                p, a = encoded[i]
                s = p + a
                off = length - len(s)  # left padding, as at inference
                ids[r, off:] = torch.tensor(s)
                mask[r, off:] = 1
                labels[r, off + len(p):] = torch.tensor(a)
            px = torch.stack([pixels(args.data, items[i]['image'], size) for i in idx])
            if step == 50:
                est_steps = max(100, int(50 * args.minutes * 60 / (time.time() - started)))
            warm = 1.0 if resumed_steps else min(1.0, (step + 1) / 200)
            lr = args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / est_steps))))
            for g in opt.param_groups:
                g['lr'] = lr
            outputs = model(input_ids=ids, pixel_values=px, attention_mask=mask, labels=labels)
            hidden = captured['hidden']
            col_t = torch.from_numpy(np.stack([labels_aux[i][0] for i in idx]))
            shp_t = torch.from_numpy(np.stack([labels_aux[i][1] for i in idx]))
            aux = torch.nn.functional.cross_entropy(aux_colour(hidden[:, 1:]).flatten(0, 1), col_t[:, 1:].flatten()) + torch.nn.functional.cross_entropy(
                aux_shape(hidden[:, 1:]).flatten(0, 1), shp_t[:, 1:].flatten())
            loss = outputs.loss + 0.5 * aux
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            if step % 100 == 0:
                with torch.no_grad():
                    pred = outputs.logits[:, :-1].argmax(-1)
                    tgt = labels[:, 1:]
                    answered = ((pred == tgt) | (tgt == -100)).all(-1).float().mean().item()
                print(f'step {step} lm {outputs.loss.item():.4f} aux {aux.item():.3f} answer-acc {answered:.2f} lr {lr:.2e} {int(deadline - time.time())}s left', flush=True)
            step += 1

    model.eval()
    if args.checkpoint:
        torch.save({'model': model.state_dict(), 'aux_colour': aux_colour.state_dict(), 'aux_shape': aux_shape.state_dict(), 'opt': opt.state_dict(), 'step': resumed_steps + step},
                   args.checkpoint)
    export_llava_folder(model, out, fast, size, patch)
    print(f'trained {step} steps; exported to {out}', flush=True)


if __name__ == '__main__':
    main()
