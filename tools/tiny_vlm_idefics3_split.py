"""Tiny Idefics3 with image splitting for tools/export_tiny_vlms.py (one-off; never needed by the app or CI).

Each image larger than the tile size is cut into rows x cols tiles plus a global view, so one prompt
holds several tiles per image and items of a batch hold different numbers of tiles (the batch is padded
with all-zero tiles, which the vision graph drops as HF's get_image_features does). Tiles are whole
(the image sides are multiples of the tile size), so every patch is real and the embeddings' bucketed
position ids are 0..n-1. Image sizes need no resize before splitting, so both libraries' processors
agree on the tiles; the global view is a resize in both (PIL in Python, transformers.js's bilinear
interpolation in TypeScript), the one place their pixels differ slightly.
"""
import json
import os

import numpy as np
import torch

from tiny_vlm_qwen import test_batch

# (width, height), longest edge 96 (the processor's size, so nothing is resized before splitting into 32 px
# tiles): 1x3, 3x1, 2x3, 3x2 and 3x3 tiles, each plus the global view.
IMAGE_SIZES = [(96, 32), (32, 96), (96, 64), (64, 96), (96, 96), (96, 32)]
ITEMS = [('what is in the image ?', 1), ('describe the image .', 1), ('how many shapes are there ?', 1), ('what color is the circle ?', 1),
         ('what is left of the circle ?', 2)]


class Vision(torch.nn.Module):
    """(pixel_values [b, tiles, 3, S, S], pixel_attention_mask [b, tiles, S, S]) -> image_features [real tiles, seq, d]."""
    input_names = ['pixel_values', 'pixel_attention_mask']

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values, pixel_attention_mask):
        vm = self.m.model.vision_model
        pv = pixel_values.flatten(0, 1)
        # Padding tiles are all zero (HF drops them the same way). The mask is read for the signature only
        # (whole tiles are all real) and joins the index, not the values: an Add there would look like a residual.
        mask = pixel_attention_mask.flatten(0, 1).flatten(1).to(torch.int64).sum(1) >= 0
        real = ((pv == 0.0).flatten(1).to(torch.int64).sum(1) != pv[0].numel()) & mask
        pv = pv[real]
        patches = vm.embeddings.patch_embedding(pv).flatten(2).transpose(1, 2)
        positions = torch.ones(patches.shape[1], dtype=torch.int64).cumsum(0) - 1
        hidden = patches + vm.embeddings.position_embedding(positions).unsqueeze(0)
        hidden = vm.encoder(inputs_embeds=hidden, attention_mask=None).last_hidden_state
        return self.m.model.connector(vm.post_layernorm(hidden))


def export_idefics3_split(out, helpers):
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor, Idefics3VisionConfig, LlamaConfig
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil
    specials = ['<pad>', '<unk>', '<s>', '</s>', '<fake_token_around_image>', '<image>', '<global-img>', '<end_of_utterance>']
    specials += [f'<row_{r}_col_{c}>' for r in range(1, 4) for c in range(1, 4)]
    tok, vocab = helpers.make_tokenizer(specials)
    tile, patch, scale = 32, 8, 2
    tokens_per_tile = (tile // patch) ** 2 // (scale ** 2)
    vc = Idefics3VisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=tile, patch_size=patch)
    tc = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, vocab_size=len(vocab),
                     max_position_embeddings=512, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    cfg = Idefics3Config(vision_config=vc.to_dict(), text_config=tc.to_dict(), scale_factor=scale, image_token_id=vocab['<image>'], pad_token_id=0)
    for c in (cfg, cfg.text_config, cfg.vision_config):
        c._attn_implementation = 'eager'
    torch.manual_seed(5)
    model = Idefics3ForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # widen the logits so greedy choices are clear of float noise
        model.lm_head.weight.mul_(8.0)
    model.save_pretrained(out, safe_serialization=True)
    for f in os.listdir(out):
        if f.startswith('model') and f.endswith('.safetensors'):
            os.remove(os.path.join(out, f))

    names = {'fake_image_token': '<fake_token_around_image>', 'image_token': '<image>', 'global_image_token': '<global-img>',
             'end_of_utterance_token': '<end_of_utterance>'}
    fast = helpers.save_tokenizer(out, tok, specials, names, '<image>')
    for k, v in names.items():
        setattr(fast, k, v)
    fast.image_token_id, fast.fake_image_token_id = vocab['<image>'], vocab['<fake_token_around_image>']
    image_processor = Idefics3ImageProcessorPil(do_image_splitting=True, size={'longest_edge': 96}, max_image_size={'longest_edge': tile},
                                                image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], resample=2)
    image_processor.save_pretrained(out)
    path = os.path.join(out, 'preprocessor_config.json')
    with open(path) as f:
        pre = json.load(f)
    pre.update(processor_class='Idefics3Processor', image_processor_type='Idefics3ImageProcessor')
    with open(path, 'w') as f:
        json.dump(pre, f, indent=2)
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=fast, chat_template=fast.chat_template, image_seq_len=tokens_per_tile)
    with open(os.path.join(out, 'processor_config.json'), 'w') as f:
        json.dump({'processor_class': 'Idefics3Processor', 'image_seq_len': tokens_per_tile}, f, indent=2)

    images, texts, item_images = test_batch(out, fast, IMAGE_SIZES, ITEMS)
    nested = [[images[i] for i in ids] for ids in item_images]
    inputs = processor(images=nested, text=texts, return_tensors='pt', padding=True)

    # transformers.js's processor gives the mask as bool (HF's PIL processor as int64).
    inputs['pixel_attention_mask'] = inputs['pixel_attention_mask'].bool()
    vision = Vision(model).eval()
    with torch.no_grad():
        ours = vision(inputs['pixel_values'], inputs['pixel_attention_mask'])
        theirs = model.model.get_image_features(inputs['pixel_values'], inputs['pixel_attention_mask']).pooler_output
    assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=1e-5), (ours.shape, theirs.shape)
    torch.onnx.export(vision, (inputs['pixel_values'], inputs['pixel_attention_mask']), os.path.join(out, 'onnx', 'vision_encoder.onnx'),
                      input_names=['pixel_values', 'pixel_attention_mask'], output_names=['image_features'],
                      dynamic_axes={'pixel_values': {0: 'batch_size', 1: 'num_images'}, 'pixel_attention_mask': {0: 'batch_size', 1: 'num_images'},
                                    'image_features': {0: 'num_real_images'}}, opset_version=18, dynamo=False)
    import onnxruntime as ort
    session = ort.InferenceSession(os.path.join(out, 'onnx', 'vision_encoder.onnx'), providers=['CPUExecutionProvider'])
    got = session.run(None, {'pixel_values': inputs['pixel_values'].numpy(), 'pixel_attention_mask': inputs['pixel_attention_mask'].numpy()})[0]
    assert got.shape == tuple(theirs.shape) and np.abs(got - theirs.numpy()).max() < 1e-4
    embed = helpers.Embed(model.model.text_model.embed_tokens).eval()
    helpers.export_embed(out, embed)
    decoder = helpers.Decoder(model.model.text_model, model.lm_head, tc.num_hidden_layers).eval()
    helpers.export_decoder(out, decoder, tc.hidden_size, tc.num_hidden_layers, tc.num_key_value_heads, tc.hidden_size // tc.num_attention_heads)

    with torch.no_grad():
        generated = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    prompt_len = inputs['input_ids'].shape[1]
    tokens = []
    for row in generated[:, prompt_len:].tolist():
        tokens.append(row[:row.index(tc.eos_token_id) + 1] if tc.eos_token_id in row else row)
    ref = {'prompts': [p for p, _ in ITEMS], 'item_images': item_images, 'image_sizes': IMAGE_SIZES, 'texts': texts,
           'input_ids': inputs['input_ids'].tolist(), 'attention_mask': inputs['attention_mask'].tolist(),
           'tiles_per_item': [int(n) for n in (inputs['pixel_values'].flatten(2).abs().sum(-1) > 0).sum(1)],
           'rows': inputs.get('rows'), 'cols': inputs.get('cols'),
           'image_features_shape': list(theirs.shape), 'greedy_tokens': tokens, 'max_new_tokens': 6}
    with open(os.path.join(out, 'reference.json'), 'w') as f:
        json.dump(ref, f)
