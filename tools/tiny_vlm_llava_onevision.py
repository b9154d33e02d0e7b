"""Tiny LLaVA-OneVision (anyres) for tools/export_tiny_vlms.py (one-off; never needed by the app or CI).

Each image is cut by transformers' LlavaOnevisionImageProcessor (PIL backend) into a base view (the whole image
resized to the crop size) and the tiles of the best grid pinpoint (aspect-preserving resize, zero padding); the model
projects every tile, unpads the grid's features, downsamples them bilinearly when they exceed anyres_max_N and ends
each row with image_newline (modeling_llava_onevision.py, pack_image_features).

The exported vision graph takes
  pixel_values [tiles, 3, S, S]  (all real tiles of the batch, each image's base view first),
  pack_index   [n, 4] int64      (rows of the [tiles * T + 1, d] table of projected tile tokens; -1 = image_newline),
  pack_weight  [n, 4] float32    (bilinear weights; one 1 for a plain row),
and returns image_features [n, d] = sum_k pack_weight[:, k] * table[pack_index[:, k]]: the tower and projector run in
the graph, and the packing plan (unpad, downsample, newline per row), a pure function of the image sizes, is computed
by Ocular in TypeScript (src-main/core/vlm/anyres.ts) exactly as pack_image_features does. The same plan is computed
here (pack_plan) and checked against HF's get_image_features.

Image sizes are chosen so the tiny model sees every case: a wide and a tall image whose grids are unpadded along rows
and along columns, a square one downsampled from 12 x 12 to 8 x 8 tokens, one resized by PIL before tiling (and
downsampled to 6 x 9), a tall one on a 3 x 1 grid.
"""
import json
import math
import os

import numpy as np
import torch

from tiny_vlm_qwen import test_batch

IMAGE_SIZES = [(96, 40), (40, 96), (96, 96), (70, 50), (32, 80)]
ITEMS = [('what is in the image ?', 1), ('describe the image .', 1), ('how many shapes are there ?', 1), ('what color is the circle ?', 1),
         ('what is left of the circle ?', 1)]
TILE, PATCH = 32, 8
PINPOINTS = [[h, w] for h in (32, 64, 96) for w in (32, 64, 96)]
ASPECT = 'anyres_max_4'


def _bilinear_taps(out_size, in_size):
    """torch's upsample_bilinear2d (align_corners=False, size given): per output index (i0, i1, w0, w1)."""
    scale = in_size / out_size
    taps = []
    for o in range(out_size):
        src = max((o + 0.5) * scale - 0.5, 0.0)
        i0 = int(math.floor(src))
        i1 = min(i0 + 1, in_size - 1)
        lam = src - i0
        taps.append((i0, i1, 1.0 - lam, lam))
    return taps


def pack_plan(image_size, grid, side, pinpoints, aspect):
    """(index [n, 4], weight [n, 4]) for one image, rows local to its tiles (base view = tile 0), -1 = newline."""
    from transformers.image_processing_utils import select_best_resolution
    h, w = image_size
    T = side * side
    idx, wts = [], []
    for k in range(T):
        idx.append([k, k, k, k])
        wts.append([1.0, 0.0, 0.0, 0.0])
    bh, bw = select_best_resolution((h, w), pinpoints)
    ph, pw = bh // grid, bw // grid
    cur_h, cur_w = ph * side, pw * side
    top, left = 0, 0
    if w / h > cur_w / cur_h:
        new_h = int(round(h * (cur_w / w), 7))
        pad = (cur_h - new_h) // 2
        top, cur_h = pad, cur_h - 2 * pad
    else:
        new_w = int(round(w * (cur_h / h), 7))
        pad = (cur_w - new_w) // 2
        left, cur_w = pad, cur_w - 2 * pad

    def row_of(r, c):  # full-grid feature (r, c) -> its tile's row in the table
        tile = 1 + (r // side) * pw + (c // side)
        return tile * T + (r % side) * side + (c % side)
    max_patches = int(aspect.strip('anyres_max_'))
    ratio = math.sqrt(cur_h * cur_w / (max_patches * side ** 2))
    if ratio > 1.1:
        oh, ow = int(cur_h // ratio), int(cur_w // ratio)
        rt, ct = _bilinear_taps(oh, cur_h), _bilinear_taps(ow, cur_w)
    else:
        oh, ow = cur_h, cur_w
        rt = [(i, i, 1.0, 0.0) for i in range(cur_h)]
        ct = [(j, j, 1.0, 0.0) for j in range(cur_w)]
    for i in range(oh):
        r0, r1, a0, a1 = rt[i]
        for j in range(ow):
            c0, c1, b0, b1 = ct[j]
            idx.append([row_of(top + r0, left + c0), row_of(top + r0, left + c1), row_of(top + r1, left + c0), row_of(top + r1, left + c1)])
            wts.append([a0 * b0, a0 * b1, a1 * b0, a1 * b1])
        idx.append([-1, -1, -1, -1])
        wts.append([1.0, 0.0, 0.0, 0.0])
    return idx, wts


class Vision(torch.nn.Module):
    """(pixel_values [tiles, 3, S, S], pack_index [n, 4], pack_weight [n, 4]) -> image_features [n, d]."""
    input_names = ['pixel_values', 'pack_index', 'pack_weight']

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values, pack_index, pack_weight):
        hidden = self.m.model.vision_tower(pixel_values, output_hidden_states=True).hidden_states[-1]
        tiles = self.m.model.multi_modal_projector(hidden)
        table = torch.cat([tiles.flatten(0, 1), self.m.model.image_newline[None].to(tiles.dtype)], 0)
        # -1 is the newline row (the table's last); Mod makes it an ordinary index for Gather.
        rows = table[pack_index % table.shape[0]]
        return (rows * pack_weight.unsqueeze(-1)).sum(1)


def export_llava_onevision(out, helpers):
    from transformers import (LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration, LlavaOnevisionProcessor, Qwen2Config,
                              SiglipVisionConfig)
    from transformers.models.llava_onevision.image_processing_pil_llava_onevision import LlavaOnevisionImageProcessorPil
    from transformers.processing_utils import ProcessorMixin
    # The video processor needs torchvision, absent from the mirror; images never reach it.
    check = ProcessorMixin.check_argument_for_proper_class
    ProcessorMixin.check_argument_for_proper_class = lambda self, name, arg: None if name == 'video_processor' else check(self, name, arg)
    specials = ['<pad>', '<unk>', '<s>', '</s>', '<image>', '<video>']
    tok, vocab = helpers.make_tokenizer(specials)
    side = TILE // PATCH
    vc = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=TILE, patch_size=PATCH,
                            vision_use_head=False)
    tc = Qwen2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, vocab_size=len(vocab),
                     max_position_embeddings=512, bos_token_id=2, eos_token_id=3, pad_token_id=0, tie_word_embeddings=False)
    cfg = LlavaOnevisionConfig(vision_config=vc.to_dict(), text_config=tc.to_dict(), image_token_index=vocab['<image>'],
                               video_token_index=vocab['<video>'], image_grid_pinpoints=PINPOINTS, vision_aspect_ratio=ASPECT,
                               vision_feature_select_strategy='full', vision_feature_layer=-1)
    for c in (cfg, cfg.text_config, cfg.vision_config):
        c._attn_implementation = 'eager'
    torch.manual_seed(13)
    model = LlavaOnevisionForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # widen the logits so greedy choices are clear of float noise
        model.lm_head.weight.mul_(8.0)
    model.save_pretrained(out, safe_serialization=True)
    for f in os.listdir(out):
        if f.startswith('model') and f.endswith('.safetensors'):
            os.remove(os.path.join(out, f))

    names = {'image_token': '<image>', 'video_token': '<video>'}
    fast = helpers.save_tokenizer(out, tok, specials, names, '<image>')
    fast.image_token, fast.video_token = '<image>', '<video>'
    fast.image_token_id, fast.video_token_id = vocab['<image>'], vocab['<video>']
    image_processor = LlavaOnevisionImageProcessorPil(size={'height': TILE, 'width': TILE}, image_grid_pinpoints=PINPOINTS,
                                                      image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], resample=3)
    image_processor.save_pretrained(out)
    path = os.path.join(out, 'preprocessor_config.json')
    with open(path) as f:
        pre = json.load(f)
    pre.update(processor_class='LlavaOnevisionProcessor', image_processor_type='LlavaOnevisionImageProcessor')
    with open(path, 'w') as f:
        json.dump(pre, f, indent=2)
    processor = LlavaOnevisionProcessor(image_processor=image_processor, tokenizer=fast, video_processor=None, num_image_tokens=side * side,
                                        vision_feature_select_strategy='full', chat_template=fast.chat_template, vision_aspect_ratio=ASPECT)
    with open(os.path.join(out, 'processor_config.json'), 'w') as f:
        json.dump({'processor_class': 'LlavaOnevisionProcessor', 'image_token': '<image>', 'num_image_tokens': side * side,
                   'vision_feature_select_strategy': 'full', 'vision_aspect_ratio': ASPECT}, f, indent=2)

    images, texts, item_images = test_batch(out, fast, IMAGE_SIZES, ITEMS)
    inputs = processor(images=[images[i] for ids in item_images for i in ids], text=texts, return_tensors='pt', padding=True)

    # The graph's inputs: the real tiles only, and the plan with each image's rows shifted past earlier images' tiles.
    sizes = inputs['image_sizes'].tolist()
    tiles, index, weight, offset = [], [], [], 0
    for b, (h, w) in enumerate(sizes):
        from transformers.models.llava_onevision.modeling_llava_onevision import image_size_to_num_patches
        n = image_size_to_num_patches((h, w), PINPOINTS, TILE)
        tiles.append(inputs['pixel_values'][b, :n])
        idx, wts = pack_plan((h, w), TILE, side, PINPOINTS, ASPECT)
        index += [[i + offset * side * side if i >= 0 else -1 for i in row] for row in idx]
        weight += wts
        offset += n
    pixel_values = torch.cat(tiles, 0)
    pack_index = torch.tensor(index, dtype=torch.int64)
    pack_weight = torch.tensor(weight, dtype=torch.float32)
    vision = Vision(model).eval()
    with torch.no_grad():
        ours = vision(pixel_values, pack_index, pack_weight)
        theirs = torch.cat(list(model.model.get_image_features(inputs['pixel_values'], inputs['image_sizes'],
                                                                batch_num_images=inputs['batch_num_images']).pooler_output), 0)
    assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=1e-5), (ours.shape, theirs.shape, (ours - theirs).abs().max())
    assert int((inputs['input_ids'] == vocab['<image>']).sum()) == ours.shape[0]
    torch.onnx.export(vision, (pixel_values, pack_index, pack_weight), os.path.join(out, 'onnx', 'vision_encoder.onnx'),
                      input_names=Vision.input_names, output_names=['image_features'],
                      dynamic_axes={'pixel_values': {0: 'num_tiles'}, 'pack_index': {0: 'num_image_tokens'}, 'pack_weight': {0: 'num_image_tokens'},
                                    'image_features': {0: 'num_image_tokens'}}, opset_version=18, dynamo=False)
    import onnxruntime as ort
    session = ort.InferenceSession(os.path.join(out, 'onnx', 'vision_encoder.onnx'), providers=['CPUExecutionProvider'])
    got = session.run(None, {'pixel_values': pixel_values.numpy(), 'pack_index': pack_index.numpy(), 'pack_weight': pack_weight.numpy()})[0]
    assert got.shape == tuple(theirs.shape) and np.abs(got - theirs.numpy()).max() < 1e-4
    embed = helpers.Embed(model.model.language_model.embed_tokens).eval()
    helpers.export_embed(out, embed)
    decoder = helpers.Decoder(model.model.language_model, model.lm_head, tc.num_hidden_layers).eval()
    helpers.export_decoder(out, decoder, tc.hidden_size, tc.num_hidden_layers, tc.num_key_value_heads, tc.hidden_size // tc.num_attention_heads)

    with torch.no_grad():
        first_logits = model(**inputs).logits[:, -1]
        generated = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    prompt_len = inputs['input_ids'].shape[1]
    tokens = []
    for row in generated[:, prompt_len:].tolist():
        tokens.append(row[:row.index(tc.eos_token_id) + 1] if tc.eos_token_id in row else row)
    ref = {'prompts': [p for p, _ in ITEMS], 'item_images': item_images, 'image_sizes': IMAGE_SIZES, 'texts': texts,
           'input_ids': inputs['input_ids'].tolist(), 'attention_mask': inputs['attention_mask'].tolist(),
           'tiles_per_item': [t.shape[0] for t in tiles], 'pixel_values_sums': [float(v) for v in pixel_values.double().flatten(1).sum(1)],
           'pack_index': index, 'pack_weight': weight, 'image_features_shape': list(theirs.shape),
           'first_logits': [[round(float(v), 6) for v in row] for row in first_logits], 'greedy_tokens': tokens, 'max_new_tokens': 6}
    with open(os.path.join(out, 'reference.json'), 'w') as f:
        json.dump(ref, f)
