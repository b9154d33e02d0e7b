"""Export tiny random-weight VLMs in the onnx-community / transformers.js layout, as test fixtures.

Each family is built from a small Hugging Face config with seeded random weights and exported as
  config.json, generation_config.json, preprocessor_config.json, processor_config.json,
  tokenizer.json, tokenizer_config.json, chat_template.jinja,
  onnx/vision_encoder.onnx   (processor image outputs -> image_features [n_image_tokens_total, d] or [b, n, d])
  onnx/embed_tokens.onnx     (input_ids -> inputs_embeds)
  onnx/decoder_model_merged.onnx (inputs_embeds, attention_mask, position_ids, past_key_values.* -> logits, present.*)
plus reference.json: greedy tokens from the same graphs' PyTorch modules, for fixed images and prompts,
so Ocular's TypeScript pipeline (transformers.js processors + its own generation loop) is checked
against an independent implementation.

Re-run (one-off, never needed by the app or CI):
  python3 -m venv tools/.venv && tools/.venv/bin/pip install torch transformers tokenizers onnx onnxruntime pillow
  tools/.venv/bin/python tools/export_tiny_vlms.py --out test/fixtures/vlm
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import DynamicCache, PreTrainedTokenizerFast

WORDS = ['what', 'is', 'in', 'the', 'image', '?', '.', ',', 'a', 'red', 'green', 'blue', 'yellow', 'circle', 'square',
         'triangle', 'one', 'two', 'three', 'four', 'describe', 'left', 'right', 'above', 'below', 'small', 'big', 'how',
         'many', 'shapes', 'are', 'there', 'color', 'of', 'answer', 'yes', 'no', 'user', 'assistant', ':', 'or', '\n']
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }} : "
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}{{ image_marker }}{% else %}{{ part['text'] }}{% endif %}{% endfor %}"
    "{% endif %} \n {% endfor %}{% if add_generation_prompt %}assistant : {% endif %}"
)


def make_tokenizer(specials):
    """A word-level tokenizer: readable ids, deterministic, and identical in Python and transformers.js."""
    vocab = {}
    for t in specials + WORDS:
        vocab.setdefault(t, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token='<unk>'))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit()])
    tok.decoder = decoders.WordPiece(prefix='##', cleanup=False)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tok, vocab


def set_processor_class(out, name):
    """transformers.js picks the processor from preprocessor_config.json's processor_class."""
    path = os.path.join(out, 'preprocessor_config.json')
    with open(path) as f:
        config = json.load(f)
    config['processor_class'] = name
    with open(path, 'w') as f:
        json.dump(config, f, indent=2)


def save_tokenizer(out, tok, specials, extra_config, image_marker):
    tok.save(os.path.join(out, 'tokenizer.json'))
    template = CHAT_TEMPLATE.replace('{{ image_marker }}', image_marker)
    with open(os.path.join(out, 'chat_template.jinja'), 'w') as f:
        f.write(template)
    config = {
        'tokenizer_class': 'PreTrainedTokenizerFast', 'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>',
        'pad_token': '<pad>', 'padding_side': 'left', 'chat_template': template, 'model_max_length': 512,
        'added_tokens_decoder': {str(i): {'content': t, 'special': True, 'lstrip': False, 'rstrip': False, 'normalized': False, 'single_word': False} for i, t in enumerate(specials)},
        **extra_config,
    }
    with open(os.path.join(out, 'tokenizer_config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token='<s>', eos_token='</s>', unk_token='<unk>', pad_token='<pad>', padding_side='left')
    fast.chat_template = template
    return fast


class Decoder(torch.nn.Module):
    """The onnx-community decoder signature over a Hugging Face language model and LM head."""

    def __init__(self, language_model, lm_head, layers):
        super().__init__()
        self.lm, self.head, self.layers = language_model, lm_head, layers

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        cache = DynamicCache()
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.lm(inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=position_ids, past_key_values=cache, use_cache=True)
        logits = self.head(out.last_hidden_state)
        presents = []
        for i in range(self.layers):
            layer = out.past_key_values.layers[i]
            presents += [layer.keys, layer.values]
        return (logits, *presents)


class Embed(torch.nn.Module):
    def __init__(self, embed, scale=1.0):
        super().__init__()
        self.embed, self.scale = embed, scale

    def forward(self, input_ids):
        return self.embed(input_ids) * self.scale


def export_decoder(out, decoder, d, layers, kv_heads, head_dim, mrope=False):
    """With mrope, position_ids are M-RoPE's [3, batch, sequence] (temporal, height, width), as in Qwen's exports."""
    b, s, p = 2, 4, 3
    positions = torch.arange(p, p + s).unsqueeze(0).expand(b, -1).contiguous()
    if mrope:
        positions = positions.unsqueeze(0).expand(3, -1, -1).contiguous()
    args = (torch.randn(b, s, d), torch.ones(b, p + s, dtype=torch.int64), positions,
            *[torch.randn(b, kv_heads, p, head_dim) for _ in range(2 * layers)])
    names_in = ['inputs_embeds', 'attention_mask', 'position_ids'] + [f'past_key_values.{i}.{k}' for i in range(layers) for k in ('key', 'value')]
    names_out = ['logits'] + [f'present.{i}.{k}' for i in range(layers) for k in ('key', 'value')]
    dyn = {'inputs_embeds': {0: 'batch_size', 1: 'sequence_length'}, 'attention_mask': {0: 'batch_size', 1: 'total_sequence_length'},
           'position_ids': {1: 'batch_size', 2: 'sequence_length'} if mrope else {0: 'batch_size', 1: 'sequence_length'}, 'logits': {0: 'batch_size', 1: 'sequence_length'}}
    for n in names_in[3:]:
        dyn[n] = {0: 'batch_size', 2: 'past_sequence_length'}
    for n in names_out[1:]:
        dyn[n] = {0: 'batch_size', 2: 'total_sequence_length'}
    torch.onnx.export(decoder, args, os.path.join(out, 'onnx', 'decoder_model_merged.onnx'), input_names=names_in, output_names=names_out,
                      dynamic_axes=dyn, opset_version=18, dynamo=False)


def export_embed(out, embed):
    torch.onnx.export(embed, (torch.tensor([[1, 2, 3]]),), os.path.join(out, 'onnx', 'embed_tokens.onnx'), input_names=['input_ids'],
                      output_names=['inputs_embeds'], dynamic_axes={'input_ids': {0: 'batch_size', 1: 'sequence_length'}, 'inputs_embeds': {0: 'batch_size', 1: 'sequence_length'}},
                      opset_version=18, dynamo=False)


def test_images(n, size):
    """Deterministic images: coloured rectangles on a grey background, saved as PNG for the TypeScript side."""
    rng = np.random.default_rng(1234)
    images = []
    for i in range(n):
        a = np.full((size, size, 3), 128, dtype=np.uint8)
        for _ in range(2):
            x0, y0 = rng.integers(0, size // 2, 2)
            w, h = rng.integers(size // 4, size // 2, 2)
            a[y0:y0 + h, x0:x0 + w] = rng.integers(0, 256, 3)
        images.append(Image.fromarray(a))
    return images


def greedy(decoder, embed_fn, inputs_embeds, attention_mask, layers, kv_heads, head_dim, steps, eos):
    """Greedy decoding with the cache, positions from the attention mask (left padding)."""
    b = inputs_embeds.shape[0]
    past = [torch.zeros(b, kv_heads, 0, head_dim) for _ in range(2 * layers)]
    mask = attention_mask.clone()
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    x = inputs_embeds
    tokens = [[] for _ in range(b)]
    done = [False] * b
    for _ in range(steps):
        out = decoder(x, mask, pos, *past)
        nxt = out[0][:, -1].argmax(-1)
        for r in range(b):
            if not done[r]:
                tokens[r].append(int(nxt[r]))
                done[r] = int(nxt[r]) == eos
        if all(done):
            break
        past = list(out[1:])
        mask = torch.cat([mask, torch.ones(b, 1, dtype=mask.dtype)], -1)
        pos = pos[:, -1:] + 1
        x = embed_fn(torch.where(torch.tensor(done), torch.tensor(eos), nxt).unsqueeze(1))
    return tokens


def merge(input_ids, inputs_embeds, image_features, image_token_id):
    flat = image_features.reshape(-1, image_features.shape[-1])
    mask = input_ids == image_token_id
    assert int(mask.sum()) == flat.shape[0], (int(mask.sum()), flat.shape)
    merged = inputs_embeds.clone()
    merged[mask] = flat
    return merged


def write_reference(out, processor, vision, embed, decoder, image_token_id, layers, kv_heads, head_dim, size, prompts, eos, image_marker, nest_images=False):
    images = test_images(len(prompts), size)
    os.makedirs(os.path.join(out, 'test-images'), exist_ok=True)
    for i, im in enumerate(images):
        im.save(os.path.join(out, 'test-images', f'{i}.png'))
    texts = [processor.tokenizer.apply_chat_template([{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': p}]}], tokenize=False, add_generation_prompt=True) for p in prompts]
    inputs = processor(images=[[im] for im in images] if nest_images else images, text=texts, return_tensors='pt', padding=True)
    with torch.no_grad():
        feats = vision(*[inputs[k] for k in vision.input_names])
        embeds = embed(inputs['input_ids'])
        merged = merge(inputs['input_ids'], embeds, feats, image_token_id)
        tokens = greedy(decoder, embed, merged, inputs['attention_mask'], layers, kv_heads, head_dim, 6, eos)
    ref = {'prompts': prompts, 'texts': texts, 'input_ids': inputs['input_ids'].tolist(), 'attention_mask': inputs['attention_mask'].tolist(),
           'pixel_values_sums': [float(v) for v in inputs['pixel_values'].double().flatten(1).sum(1)], 'pixel_values_shape': list(inputs['pixel_values'].shape),
           'image_features_shape': list(feats.shape), 'greedy_tokens': tokens, 'max_new_tokens': 6}
    with open(os.path.join(out, 'reference.json'), 'w') as f:
        json.dump(ref, f)


PROMPTS = ['what is in the image ?', 'describe the image .', 'how many shapes are there ?', 'what color is the circle ?',
           'is there a red square ?', 'what is left of the circle ?', 'describe the image', 'answer yes or no : big ?']


class LlavaVision(torch.nn.Module):
    """pixel_values -> image_features: the CLIP tower's last hidden states through the projector ('full' strategy)."""
    input_names = ['pixel_values']

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values):
        hidden = self.m.model.vision_tower(pixel_values, output_hidden_states=True).hidden_states[-1]
        return self.m.model.multi_modal_projector(hidden)


def export_llava_folder(model, out, fast, image_size, patch):
    """Write a LLaVA model (CLIP tower, 'full' features) in the onnx-community layout; returns (processor, vision, embed, decoder)."""
    from transformers import CLIPImageProcessor, LlavaProcessor
    tc = model.config.text_config
    model.save_pretrained(out, safe_serialization=True)
    os.remove(os.path.join(out, 'model.safetensors'))  # the ONNX graphs carry the weights
    image_processor = CLIPImageProcessor(size={'shortest_edge': image_size}, crop_size={'height': image_size, 'width': image_size}, do_center_crop=True,
                                         image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    image_processor.save_pretrained(out)
    set_processor_class(out, 'LlavaProcessor')
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=fast, patch_size=patch, vision_feature_select_strategy='full',
                               image_token='<image>', num_additional_image_tokens=1, chat_template=fast.chat_template)
    with open(os.path.join(out, 'processor_config.json'), 'w') as f:
        json.dump({'processor_class': 'LlavaProcessor', 'image_token': '<image>', 'patch_size': patch, 'num_additional_image_tokens': 1,
                   'vision_feature_select_strategy': 'full'}, f, indent=2)
    vision = LlavaVision(model).eval()
    with torch.no_grad():
        torch.onnx.export(vision, (torch.randn(2, 3, image_size, image_size),), os.path.join(out, 'onnx', 'vision_encoder.onnx'), input_names=['pixel_values'],
                          output_names=['image_features'], dynamic_axes={'pixel_values': {0: 'batch_size'}, 'image_features': {0: 'batch_size'}}, opset_version=18, dynamo=False)
        embed = Embed(model.model.language_model.embed_tokens).eval()
        export_embed(out, embed)
        decoder = Decoder(model.model.language_model, model.lm_head, tc.num_hidden_layers).eval()
        export_decoder(out, decoder, tc.hidden_size, tc.num_hidden_layers, tc.num_key_value_heads, tc.hidden_size // tc.num_attention_heads)
    return processor, vision, embed, decoder


def export_llava(out):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration
    specials = ['<pad>', '<unk>', '<s>', '</s>', '<image>']
    tok, vocab = make_tokenizer(specials)
    image_size, patch = 32, 8
    vc = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=image_size, patch_size=patch, projection_dim=32)
    tc = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, vocab_size=len(vocab),
                     max_position_embeddings=256, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    cfg = LlavaConfig(vision_config=vc, text_config=tc, image_token_index=vocab['<image>'], vision_feature_layer=-1, vision_feature_select_strategy='full')
    cfg._attn_implementation = 'eager'
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(cfg).eval()
    fast = save_tokenizer(out, tok, specials, {}, '<image>')
    processor, vision, embed, decoder = export_llava_folder(model, out, fast, image_size, patch)
    write_reference(out, processor, vision, embed, decoder, vocab['<image>'], tc.num_hidden_layers, tc.num_key_value_heads,
                    tc.hidden_size // tc.num_attention_heads, image_size, PROMPTS, tc.eos_token_id, '<image>')


def export_gemma3(out):
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessor, Gemma3Processor, Gemma3TextConfig, SiglipVisionConfig
    specials = ['<pad>', '<unk>', '<s>', '</s>', '<start_of_image>', '<end_of_image>', '<image_soft_token>']
    tok, vocab = make_tokenizer(specials)
    image_size, patch, tokens_per_image = 32, 8, 4
    vc = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=image_size, patch_size=patch)
    tc = Gemma3TextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                          vocab_size=len(vocab), max_position_embeddings=256, sliding_window=64, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    cfg = Gemma3Config(text_config=tc, vision_config=vc, mm_tokens_per_image=tokens_per_image, boi_token_index=vocab['<start_of_image>'],
                       eoi_token_index=vocab['<end_of_image>'], image_token_index=vocab['<image_soft_token>'])
    for c in (cfg, cfg.text_config, cfg.vision_config):
        c._attn_implementation = 'eager'
    torch.manual_seed(1)
    model = Gemma3ForConditionalGeneration(cfg).eval()
    model.save_pretrained(out, safe_serialization=True)
    os.remove(os.path.join(out, 'model.safetensors'))

    extra = {'boi_token': '<start_of_image>', 'eoi_token': '<end_of_image>', 'image_token': '<image_soft_token>'}
    fast = save_tokenizer(out, tok, specials, extra, '<start_of_image>')
    for k, v in extra.items():
        setattr(fast, k, v)
    fast.image_token_id = vocab['<image_soft_token>']
    fast.boi_token_id = vocab['<start_of_image>']
    fast.eoi_token_id = vocab['<end_of_image>']
    image_processor = Gemma3ImageProcessor(size={'height': image_size, 'width': image_size}, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
                                           do_pan_and_scan=False)
    image_processor.save_pretrained(out)
    set_processor_class(out, 'Gemma3Processor')
    processor = Gemma3Processor(image_processor=image_processor, tokenizer=fast, chat_template=fast.chat_template, image_seq_length=tokens_per_image)
    with open(os.path.join(out, 'processor_config.json'), 'w') as f:
        json.dump({'processor_class': 'Gemma3Processor', 'image_seq_length': tokens_per_image}, f, indent=2)

    class Vision(torch.nn.Module):
        input_names = ['pixel_values']

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            hidden = self.m.model.vision_tower(pixel_values=pixel_values).last_hidden_state
            return self.m.model.multi_modal_projector(hidden)

    vision = Vision(model).eval()
    torch.onnx.export(vision, (torch.randn(2, 3, image_size, image_size),), os.path.join(out, 'onnx', 'vision_encoder.onnx'), input_names=['pixel_values'],
                      output_names=['image_features'], dynamic_axes={'pixel_values': {0: 'batch_size'}, 'image_features': {0: 'batch_size'}}, opset_version=18, dynamo=False)
    embed = Embed(model.model.language_model.embed_tokens).eval()
    export_embed(out, embed)
    decoder = Decoder(model.model.language_model, model.lm_head, tc.num_hidden_layers).eval()
    export_decoder(out, decoder, tc.hidden_size, tc.num_hidden_layers, tc.num_key_value_heads, tc.head_dim)
    write_reference(out, processor, vision, embed, decoder, vocab['<image_soft_token>'], tc.num_hidden_layers, tc.num_key_value_heads,
                    tc.head_dim, image_size, PROMPTS, tc.eos_token_id, '<start_of_image>', nest_images=True)


def export_idefics3(out):
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessor, Idefics3Processor, Idefics3VisionConfig, LlamaConfig
    specials = ['<pad>', '<unk>', '<s>', '</s>', '<fake_token_around_image>', '<image>', '<global-img>', '<end_of_utterance>']
    tok, vocab = make_tokenizer(specials)
    image_size, patch, scale = 32, 8, 2
    tokens_per_image = (image_size // patch) ** 2 // (scale ** 2)
    vc = Idefics3VisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=image_size, patch_size=patch)
    tc = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, vocab_size=len(vocab),
                     max_position_embeddings=256, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    cfg = Idefics3Config(vision_config=vc.to_dict(), text_config=tc.to_dict(), scale_factor=scale, image_token_id=vocab['<image>'], pad_token_id=0)
    for c in (cfg, cfg.text_config, cfg.vision_config):
        c._attn_implementation = 'eager'
    torch.manual_seed(2)
    model = Idefics3ForConditionalGeneration(cfg).eval()
    model.save_pretrained(out, safe_serialization=True)
    os.remove(os.path.join(out, 'model.safetensors'))

    fast = save_tokenizer(out, tok, specials, {'fake_image_token': '<fake_token_around_image>', 'image_token': '<image>', 'global_image_token': '<global-img>',
                                               'end_of_utterance_token': '<end_of_utterance>'}, '<image>')
    fast.fake_image_token, fast.image_token, fast.global_image_token = '<fake_token_around_image>', '<image>', '<global-img>'
    fast.end_of_utterance_token = '<end_of_utterance>'
    fast.image_token_id = vocab['<image>']
    fast.fake_image_token_id = vocab['<fake_token_around_image>']
    image_processor = Idefics3ImageProcessor(do_image_splitting=False, size={'longest_edge': image_size}, max_image_size={'longest_edge': image_size},
                                             image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    image_processor.save_pretrained(out)
    set_processor_class(out, 'Idefics3Processor')
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=fast, chat_template=fast.chat_template, image_seq_len=tokens_per_image)
    with open(os.path.join(out, 'processor_config.json'), 'w') as f:
        json.dump({'processor_class': 'Idefics3Processor', 'image_seq_len': tokens_per_image}, f, indent=2)

    class Vision(torch.nn.Module):
        input_names = ['pixel_values', 'pixel_attention_mask']

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values, pixel_attention_mask):
            # get_image_features' Unfold does not export; with one real image per prompt (no splitting, no
            # padding images) the patch mask is 'any pixel of the patch is real', computed by reshaping.
            # The embeddings' bucketised position ids do not export either (ScatterND type clash); for a
            # whole, unpadded image they are simply 0..num_patches-1, so compute the embeddings directly.
            # pixel_attention_mask is accepted for the onnx-community signature; every pixel is real here.
            vm = self.m.model.vision_model
            pv = pixel_values.flatten(0, 1)
            patches = vm.embeddings.patch_embedding(pv).flatten(2).transpose(1, 2)
            positions = torch.arange(patches.shape[1], device=pv.device)
            hidden = patches + vm.embeddings.position_embedding(positions).unsqueeze(0) + 0 * pixel_attention_mask.flatten(0, 1)[:, :1, :1].to(pv.dtype).flatten(1).unsqueeze(-1)
            hidden = vm.encoder(inputs_embeds=hidden, attention_mask=None).last_hidden_state
            hidden = vm.post_layernorm(hidden)
            return self.m.model.connector(hidden)

    vision = Vision(model).eval()
    px = torch.randn(2, 1, 3, image_size, image_size)
    pam = torch.ones(2, 1, image_size, image_size, dtype=torch.bool)
    torch.onnx.export(vision, (px, pam), os.path.join(out, 'onnx', 'vision_encoder.onnx'), input_names=['pixel_values', 'pixel_attention_mask'],
                      output_names=['image_features'], dynamic_axes={'pixel_values': {0: 'batch_size', 1: 'num_images'}, 'pixel_attention_mask': {0: 'batch_size', 1: 'num_images'},
                                                                      'image_features': {0: 'num_real_images'}}, opset_version=18, dynamo=False)
    embed = Embed(model.model.text_model.embed_tokens).eval()
    export_embed(out, embed)
    decoder = Decoder(model.model.text_model, model.lm_head, tc.num_hidden_layers).eval()
    export_decoder(out, decoder, tc.hidden_size, tc.num_hidden_layers, tc.num_key_value_heads, tc.hidden_size // tc.num_attention_heads)
    write_reference(out, processor, vision, embed, decoder, vocab['<image>'], tc.num_hidden_layers, tc.num_key_value_heads,
                    tc.hidden_size // tc.num_attention_heads, image_size, PROMPTS, tc.eos_token_id, '<image>', nest_images=True)


def export_qwen2_5_vl(out):
    import tiny_vlm_qwen
    tiny_vlm_qwen.export_qwen(out, 'qwen2_5_vl', sys.modules[__name__])


def export_qwen3_vl(out):
    import tiny_vlm_qwen
    tiny_vlm_qwen.export_qwen(out, 'qwen3_vl', sys.modules[__name__])


def export_qwen3_5(out):
    import tiny_vlm_qwen
    tiny_vlm_qwen.export_qwen(out, 'qwen3_5', sys.modules[__name__])


def export_idefics3_split(out):
    import tiny_vlm_idefics3_split
    tiny_vlm_idefics3_split.export_idefics3_split(out, sys.modules[__name__])


def export_llava_onevision(out):
    import tiny_vlm_llava_onevision
    tiny_vlm_llava_onevision.export_llava_onevision(out, sys.modules[__name__])


FAMILIES = {'llava_onevision': export_llava_onevision, 'idefics3_split': export_idefics3_split, 'llava': export_llava, 'gemma3': export_gemma3, 'idefics3': export_idefics3, 'qwen2_5_vl': export_qwen2_5_vl, 'qwen3_vl': export_qwen3_vl, 'qwen3_5': export_qwen3_5}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', required=True)
    parser.add_argument('--family', action='append', choices=sorted(FAMILIES))
    args = parser.parse_args()
    for family in args.family or sorted(FAMILIES):
        out = os.path.join(args.out, f"tiny-{family.replace('_split', '-split')}")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(os.path.join(out, 'onnx'))
        FAMILIES[family](out)
        print(f'wrote {out}')


if __name__ == '__main__':
    main()
