"""Tiny Qwen2.5-VL and Qwen3-VL exports for tools/export_tiny_vlms.py (one-off; never needed by the app or CI).

The vision towers are Hugging Face's own modules. Three things in their forward do not trace into a graph
that works for any set of image sizes, so the wrapper supplies them as tensors computed from image_grid_thw
with ordinary tensor ops (transformers' vision_utils accepts them precomputed, by design):
  - the rotary (row, col) of every patch, and Qwen3-VL's bilinear position-embedding taps and weights;
  - which patches attend to which: HF splits the packed sequence by cu_seqlens with .tolist(); here every
    attention layer gets an additive mask instead (same image and frame for full attention, same window
    too for Qwen2.5-VL's windowed layers), passed where HF passes cu_seqlens, and the attention forward is
    replaced by one that reads it;
  - Qwen2.5-VL's window reordering: windows are expressed by the mask, so the window permutation is the
    identity (the blocks are per-token apart from attention, and the merger groups the same four patches).
The wrapper's output is checked against HF's get_image_features on the test images before export.

The reference tokens are transformers' own generate() on the full model: HF's processor, HF's M-RoPE
(get_rope_index) and HF's cache, over a left-padded batch of images of different sizes and aspect ratios,
one item with two images.
"""
import json
import os

import numpy as np
import torch
from PIL import Image

QWEN_SPECIALS = ['<pad>', '<unk>', '<s>', '</s>', '<|vision_start|>', '<|vision_end|>', '<|image_pad|>', '<|video_pad|>']
IMAGE_MARKER = '<|vision_start|><|image_pad|><|vision_end|>'
# (width, height) per image; sizes are multiples of patch * merge inside [min_pixels, max_pixels], so the
# processors of both libraries keep the pixels as they are (no resampling differences).
IMAGE_SIZES = [(48, 32), (32, 64), (64, 32), (32, 32), (48, 48), (32, 48)]
# Items: prompt and how many images it shows (the last shows two).
ITEMS = [('what is in the image ?', 1), ('describe the image .', 1), ('how many shapes are there ?', 1), ('what color is the circle ?', 1),
         ('what is left of the circle ?', 2)]


def patch_grid(grid_thw, n_tokens, merge):
    """Per packed patch (processor order): image index, frame, row and column in its image's patch grid."""
    counts = grid_thw[:, 0] * grid_thw[:, 1] * grid_thw[:, 2]
    ends = counts.cumsum(0)
    index = torch.ones(n_tokens, dtype=torch.int64).cumsum(0) - 1
    image = (index[:, None] >= ends[None, :]).to(torch.int64).sum(1)
    start = (ends - counts)[image]
    height, width = grid_thw[:, 1][image], grid_thw[:, 2][image]
    local = index - start
    frame = local // (height * width)
    within = local % (height * width)
    blocks_w = width // merge
    in_col, in_row = within % merge, (within // merge) % merge
    block_col = (within // (merge * merge)) % blocks_w
    block_row = within // (merge * merge * blocks_w)
    return image, frame, block_row * merge + in_row, block_col * merge + in_col, height, width


def additive_mask(segment):
    same = segment[:, None] == segment[None, :]
    return torch.zeros(same.shape, dtype=torch.float32).masked_fill(~same, float('-inf'))[None, None]


def masked_attention_forward(module, apply_rotary):
    """The vision attention with `cu_seqlens` replaced by an additive mask [1, 1, n, n]."""
    def forward(hidden_states, cu_seqlens, position_embeddings=None, max_seqlen=None, **kwargs):
        n = hidden_states.shape[0]
        q, k, v = module.qkv(hidden_states).reshape(n, 3, module.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
        cos, sin = position_embeddings
        q, k = apply_rotary(q, k, cos, sin)
        q, k, v = (t.transpose(0, 1).unsqueeze(0) for t in (q, k, v))
        weights = torch.matmul(q, k.transpose(2, 3)) * module.scaling + cu_seqlens
        out = torch.matmul(torch.softmax(weights, dim=-1, dtype=torch.float32), v)
        return module.proj(out.transpose(1, 2).reshape(n, -1))
    return forward


class QwenVision(torch.nn.Module):
    """(pixel_values [patches, C*T*P*P], image_grid_thw [images, 3]) -> image_features [merged tokens, d]."""
    input_names = ['pixel_values', 'image_grid_thw']

    def __init__(self, model, family):
        super().__init__()
        self.visual, self.family = model.model.visual, family
        cfg = self.visual.config
        self.merge = cfg.spatial_merge_size
        module = __import__(type(self.visual).__module__, fromlist=['apply_rotary_pos_emb_vision'])
        for block in self.visual.blocks:
            block.attn.forward = masked_attention_forward(block.attn, module.apply_rotary_pos_emb_vision)
        if family == 'qwen2_5_vl':
            self.window = cfg.window_size // cfg.spatial_merge_size // cfg.patch_size

    def forward(self, pixel_values, image_grid_thw):
        from transformers.vision_utils import _interpolation_axis_taps_weights
        n = pixel_values.shape[0]
        image, frame, row, col, height, width = patch_grid(image_grid_thw, n, self.merge)
        frame_id = image * 4096 + frame
        extra = {'position_ids': torch.stack([row, col], -1), 'cu_seqlens': additive_mask(frame_id), 'max_seqlen': 0}
        if self.family == 'qwen2_5_vl':
            window_id = frame_id * 1048576 + (row // self.merge // self.window) * 1024 + col // self.merge // self.window
            extra.update(window_index=torch.ones(n // self.merge ** 2, dtype=torch.int64).cumsum(0) - 1,
                         cu_window_seqlens=additive_mask(window_id), max_window_seqlen=0)
        else:
            side = self.visual.num_grid_per_side
            h_taps, h_w = _interpolation_axis_taps_weights(row, height, side, 'bilinear', True)
            w_taps, w_w = _interpolation_axis_taps_weights(col, width, side, 'bilinear', True)
            extra.update(interp_indices=(h_taps[:, :, None] * side + w_taps[:, None, :]).reshape(-1, 4),
                         interp_weights=(h_w[:, :, None] * w_w[:, None, :]).reshape(-1, 4))
        return self.visual(pixel_values, grid_thw=image_grid_thw, **extra).pooler_output


def check_vision_graph(path, model, processor, images):
    """The exported graph against HF's vision forward, on the whole batch and on subsets of other sizes."""
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    for subset in (images, images[1:2], images[3:0:-1]):
        inputs = processor.image_processor(images=subset, return_tensors='pt')
        with torch.no_grad():
            theirs = torch.cat(list(model.model.get_image_features(inputs['pixel_values'], inputs['image_grid_thw']).pooler_output), 0)
        ours = session.run(None, {'pixel_values': inputs['pixel_values'].numpy(), 'image_grid_thw': inputs['image_grid_thw'].numpy()})[0]
        assert ours.shape == tuple(theirs.shape) and np.abs(ours - theirs.numpy()).max() < 1e-4, (ours.shape, theirs.shape)


def test_images(sizes):
    """Grey images with two coloured rectangles each, deterministic."""
    rng = np.random.default_rng(4321)
    images = []
    for w, h in sizes:
        a = np.full((h, w, 3), 128, dtype=np.uint8)
        for _ in range(2):
            x0, y0 = rng.integers(0, w // 2), rng.integers(0, h // 2)
            a[y0:y0 + rng.integers(h // 4, h // 2 + 1), x0:x0 + rng.integers(w // 4, w // 2 + 1)] = rng.integers(0, 256, 3)
        images.append(Image.fromarray(a))
    return images


def test_batch(out, fast, sizes, items):
    """The test images (saved as PNG for the TypeScript side) and each item's chat text and image indices."""
    images = test_images(sizes)
    os.makedirs(os.path.join(out, 'test-images'), exist_ok=True)
    for i, im in enumerate(images):
        im.save(os.path.join(out, 'test-images', f'{i}.png'))
    texts, item_images, k = [], [], 0
    for prompt, n in items:
        content = [{'type': 'image'}] * n + [{'type': 'text', 'text': prompt}]
        texts.append(fast.apply_chat_template([{'role': 'user', 'content': content}], tokenize=False, add_generation_prompt=True))
        item_images.append(list(range(k, k + n)))
        k += n
    return images, texts, item_images


def export_qwen(out, family, helpers):
    from transformers import AutoProcessor  # noqa: F401  (imported for its side effect of registering classes)
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    tok, vocab = helpers.make_tokenizer(QWEN_SPECIALS)
    patch, merge = 8, 2
    ids = {'image_token_id': vocab['<|image_pad|>'], 'video_token_id': vocab['<|video_pad|>'], 'vision_start_token_id': vocab['<|vision_start|>'],
           'vision_end_token_id': vocab['<|vision_end|>']}
    text = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, vocab_size=len(vocab),
                max_position_embeddings=512, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=patch, spatial_merge_size=merge, temporal_patch_size=2,
                  out_hidden_size=32, in_channels=3)
    if family == 'qwen2_5_vl':
        from transformers import Qwen2_5_VLConfig as Config, Qwen2_5_VLForConditionalGeneration as Model, Qwen2_5_VLProcessor as Processor
        text['rope_parameters'] = {'rope_type': 'default', 'rope_theta': 10000.0, 'mrope_section': [2, 3, 3]}
        vision.update(window_size=32, fullatt_block_indexes=[1])
    elif family == 'qwen3_5':
        from transformers import Qwen3_5Config as Config, Qwen3_5ForConditionalGeneration as Model, Qwen3VLProcessor as Processor
        # The hybrid: three gated delta-net layers then one full-attention layer (the real model's 4-layer period),
        # gated attention output, partial rotary with interleaved M-RoPE, untied head (widened below).
        text.update(num_hidden_layers=4, head_dim=16, layer_types=['linear_attention'] * 3 + ['full_attention'], full_attention_interval=4,
                    linear_conv_kernel_dim=4, linear_key_head_dim=8, linear_value_head_dim=8, linear_num_key_heads=2, linear_num_value_heads=4,
                    attn_output_gate=True, tie_word_embeddings=False, mtp_num_hidden_layers=0, initializer_range=0.2,
                    rope_parameters={'rope_type': 'default', 'rope_theta': 10000.0, 'mrope_section': [2, 1, 1], 'mrope_interleaved': True,
                                     'partial_rotary_factor': 0.5})
        vision.update(num_position_embeddings=16, deepstack_visual_indexes=[], initializer_range=0.2)
    else:
        from transformers import Qwen3VLConfig as Config, Qwen3VLForConditionalGeneration as Model, Qwen3VLProcessor as Processor
        text.update(head_dim=16, rope_parameters={'rope_type': 'default', 'rope_theta': 10000.0, 'mrope_section': [2, 3, 3], 'mrope_interleaved': True})
        vision.update(num_position_embeddings=16, deepstack_visual_indexes=[])
    cfg = Config(text_config=text, vision_config=vision, **ids, **({'tie_word_embeddings': False} if family == 'qwen3_5' else {}))
    for c in (cfg, cfg.text_config, cfg.vision_config):
        c._attn_implementation = 'eager'
    torch.manual_seed({'qwen2_5_vl': 3, 'qwen3_vl': 4}.get(family, 5))
    model = Model(cfg).eval()
    with torch.no_grad():  # random weights at init scale give near-uniform logits; widen them so greedy choices are clear
        model.lm_head.weight.mul_(8.0)
    model.save_pretrained(out, safe_serialization=True)
    for f in os.listdir(out):
        if f.startswith('model') and f.endswith('.safetensors'):
            os.remove(os.path.join(out, f))

    fast = helpers.save_tokenizer(out, tok, QWEN_SPECIALS, {'image_token': '<|image_pad|>', 'video_token': '<|video_pad|>'}, IMAGE_MARKER)
    fast.image_token, fast.video_token = '<|image_pad|>', '<|video_pad|>'
    fast.image_token_id, fast.video_token_id = vocab['<|image_pad|>'], vocab['<|video_pad|>']
    min_pixels, max_pixels = 32 * 32, 64 * 64
    image_processor = Qwen2VLImageProcessorPil(min_pixels=min_pixels, max_pixels=max_pixels, patch_size=patch, merge_size=merge, temporal_patch_size=2,
                                               image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    image_processor.save_pretrained(out)
    # transformers.js reads min/max pixels and the patch geometry from preprocessor_config.json.
    path = os.path.join(out, 'preprocessor_config.json')
    with open(path) as f:
        pre = json.load(f)
    pre.update(processor_class=Processor.__name__, image_processor_type='Qwen2VLImageProcessor', min_pixels=min_pixels, max_pixels=max_pixels,
               patch_size=patch, merge_size=merge, temporal_patch_size=2)
    with open(path, 'w') as f:
        json.dump(pre, f, indent=2)
    # The video processor needs torchvision, which the mirror's torch build lacks; images never reach it.
    from transformers.processing_utils import ProcessorMixin
    check = ProcessorMixin.check_argument_for_proper_class
    ProcessorMixin.check_argument_for_proper_class = lambda self, name, arg: None if name == 'video_processor' else check(self, name, arg)
    processor = Processor(image_processor=image_processor, tokenizer=fast, video_processor=None, chat_template=fast.chat_template)
    ProcessorMixin.check_argument_for_proper_class = check
    with open(os.path.join(out, 'processor_config.json'), 'w') as f:
        json.dump({'processor_class': Processor.__name__}, f, indent=2)

    images, texts, item_images = test_batch(out, fast, IMAGE_SIZES, ITEMS)
    inputs = processor(images=images, text=texts, return_tensors='pt', padding=True)

    vision_module = QwenVision(model, 'qwen3_vl' if family == 'qwen3_5' else family).eval()
    with torch.no_grad():
        ours = vision_module(inputs['pixel_values'], inputs['image_grid_thw'])
    # HF's own vision forward, with its own attention, on a fresh copy of the weights.
    fresh = Model(cfg).eval()
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        theirs = torch.cat(list(fresh.model.get_image_features(inputs['pixel_values'], inputs['image_grid_thw']).pooler_output), 0)
    assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=1e-5), (ours - theirs).abs().max()

    px = inputs['pixel_values']
    torch.onnx.export(vision_module, (px, inputs['image_grid_thw']), os.path.join(out, 'onnx', 'vision_encoder.onnx'),
                      input_names=['pixel_values', 'image_grid_thw'], output_names=['image_features'],
                      dynamic_axes={'pixel_values': {0: 'num_patches'}, 'image_grid_thw': {0: 'num_images'}, 'image_features': {0: 'num_image_tokens'}},
                      opset_version=18, dynamo=False)
    check_vision_graph(os.path.join(out, 'onnx', 'vision_encoder.onnx'), fresh, processor, images)
    embed = helpers.Embed(model.model.language_model.embed_tokens).eval()
    helpers.export_embed(out, embed)
    tc = model.config.text_config
    if family == 'qwen3_5':
        import tiny_vlm_qwen3_5
        _, path = tiny_vlm_qwen3_5.export_decoder(out, model)
        with torch.no_grad():
            merged = fresh.model.get_input_embeddings()(inputs['input_ids'])
            merged[inputs['input_ids'] == cfg.image_token_id] = theirs
            rope, _ = fresh.model.get_rope_index(inputs['input_ids'], mm_token_type_ids=inputs['mm_token_type_ids'],
                                                 image_grid_thw=inputs['image_grid_thw'], attention_mask=inputs['attention_mask'])
        tiny_vlm_qwen3_5.check_decoder(path, fresh, inputs, merged, rope[-3:] if rope.shape[0] == 4 else rope)
    else:
        head_dim = getattr(tc, 'head_dim', None) or tc.hidden_size // tc.num_attention_heads
        decoder = helpers.Decoder(model.model.language_model, model.lm_head, tc.num_hidden_layers).eval()
        helpers.export_decoder(out, decoder, tc.hidden_size, tc.num_hidden_layers, tc.num_key_value_heads, head_dim, mrope=True)

    with torch.no_grad():
        first_logits = fresh(**inputs).logits[:, -1]
        generated = fresh.generate(**inputs, max_new_tokens=6, do_sample=False)
        positions, deltas = fresh.model.get_rope_index(inputs['input_ids'], mm_token_type_ids=inputs['mm_token_type_ids'],
                                                       image_grid_thw=inputs['image_grid_thw'], attention_mask=inputs['attention_mask'])
    prompt_len = inputs['input_ids'].shape[1]
    tokens = []
    for row in generated[:, prompt_len:].tolist():
        cut = row.index(tc.eos_token_id) + 1 if tc.eos_token_id in row else len(row)
        tokens.append(row[:cut])
    ref = {'prompts': [p for p, _ in ITEMS], 'item_images': item_images, 'image_sizes': IMAGE_SIZES, 'texts': texts,
           'input_ids': inputs['input_ids'].tolist(), 'attention_mask': inputs['attention_mask'].tolist(),
           'image_grid_thw': inputs['image_grid_thw'].tolist(), 'position_ids': positions.tolist(), 'rope_deltas': deltas.flatten().tolist(),
           'image_features_shape': list(theirs.shape),
           'first_logits': [[round(float(v), 6) for v in row] for row in first_logits], 'greedy_tokens': tokens, 'max_new_tokens': 6}
    with open(os.path.join(out, 'reference.json'), 'w') as f:
        json.dump(ref, f)
