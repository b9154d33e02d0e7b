"""Tiny Qwen3.5 (hybrid gated delta-net + full attention) decoder export for tools/export_tiny_vlms.py
(one-off; never needed by the app or CI). The vision tower, processor and reference tokens come from
tiny_vlm_qwen.export_qwen, which calls `export_decoder` here for the qwen3_5 family.

The decoder has the hybrid signature of transformers.js's Qwen3.5 exports:
  inputs_embeds, attention_mask, position_ids [3, batch, seq],
  past_conv.L [batch, conv_dim, kernel] and past_recurrent.L [batch, heads, k_dim, v_dim] per linear-attention layer,
  past_key_values.L.key/value per full-attention layer
  -> logits, present_conv.L, present_recurrent.L, present.L.key/value.
Full-attention layers, norms and MLPs are Hugging Face's own modules. The gated delta-net is written out
from HF's weights the way its single-token path (causal_conv1d_update + torch_recurrent_gated_delta_rule)
computes it, for any number of tokens: the conv runs over [carried conv state, new tokens], and the
recurrence is a scripted loop over tokens, which exports as an ONNX Loop (control flow, like the real
export's Scan inside If). Padded positions are zeroed before the mixer as HF's apply_mask_to_padding_states
does. The graph is checked against HF's forward (chunked prefill, then cached decode) before export.
"""
import os

import torch
import torch.nn.functional as F


@torch.jit.script
def gated_delta_recurrence(q, k, v, decay, beta, state):
    """q, k [b, h, s, dk]; v [b, h, s, dv]; decay, beta [b, h, s]; state [b, h, dk, dv] (HF's recurrent rule)."""
    outs = torch.zeros_like(v)
    for i in range(q.shape[2]):
        state = state * decay[:, :, i].exp().unsqueeze(-1).unsqueeze(-1)
        k_t = k[:, :, i].unsqueeze(-1)
        kv_mem = (state * k_t).sum(-2)
        delta = (v[:, :, i] - kv_mem) * beta[:, :, i].unsqueeze(-1)
        state = state + k_t * delta.unsqueeze(-2)
        outs[:, :, i] = (state * q[:, :, i].unsqueeze(-1)).sum(-2)
    return outs, state


def l2norm(x, eps: float = 1e-6):
    return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + eps)


def gated_delta_net(m, hidden, mask, conv_state, recurrent_state):
    """One Qwen3_5GatedDeltaNet over `hidden` [b, s, d] from the carried states; returns (out, conv, recurrent)."""
    b, s, _ = hidden.shape
    hidden = hidden * mask[:, :, None].to(hidden.dtype)
    mixed = m.in_proj_qkv(hidden).transpose(1, 2)
    z = m.in_proj_z(hidden).reshape(b, s, -1, m.head_v_dim)
    beta = m.in_proj_b(hidden).sigmoid()
    g = -m.A_log.float().exp() * F.softplus(m.in_proj_a(hidden).float() + m.dt_bias)
    full = torch.cat([conv_state, mixed], -1)
    new_conv = full[:, :, -m.conv_kernel_size:]
    mixed = F.silu(F.conv1d(full, m.conv1d.weight, None, padding=0, groups=m.conv_dim)[:, :, -s:]).transpose(1, 2)
    q, k, v = torch.split(mixed, [m.key_dim, m.key_dim, m.value_dim], dim=-1)
    q = q.reshape(b, s, -1, m.head_k_dim)
    k = k.reshape(b, s, -1, m.head_k_dim)
    v = v.reshape(b, s, -1, m.head_v_dim)
    if m.num_v_heads // m.num_k_heads > 1:
        q = q.repeat_interleave(m.num_v_heads // m.num_k_heads, dim=2)
        k = k.repeat_interleave(m.num_v_heads // m.num_k_heads, dim=2)
    q, k, v, beta, g = (t.transpose(1, 2).float() for t in (q, k, v, beta, g))
    q = l2norm(q) / (q.shape[-1] ** 0.5)
    k = l2norm(k)
    core, new_state = gated_delta_recurrence(q, k, v, g, beta, recurrent_state)
    core = core.transpose(1, 2).reshape(-1, m.head_v_dim)
    core = m.norm(core, z.reshape(-1, m.head_v_dim)).reshape(b, s, -1)
    return m.out_proj(core), new_conv, new_state


class _Kv:
    """The one cache method HF's attention calls: append this step's keys and values to the carried ones."""

    def __init__(self, key, value):
        self.key, self.value = key, value

    def update(self, key, value, layer_idx):
        self.key, self.value = torch.cat([self.key, key], 2), torch.cat([self.value, value], 2)
        return self.key, self.value


class HybridDecoder(torch.nn.Module):
    def __init__(self, language_model, lm_head):
        super().__init__()
        self.lm, self.head = language_model, lm_head
        self.types = language_model.config.layer_types

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        b, s, _ = inputs_embeds.shape
        total = attention_mask.shape[1]
        # Additive causal mask over [past + new] keys, with padded keys masked.
        q_pos = torch.arange(s).unsqueeze(1) + (total - s)
        causal = torch.arange(total).unsqueeze(0) <= q_pos
        allowed = causal[None, None] & attention_mask[:, None, None, :].bool()
        mask4 = torch.zeros(allowed.shape, dtype=inputs_embeds.dtype).masked_fill(~allowed, torch.finfo(inputs_embeds.dtype).min)
        new_mask = attention_mask[:, -s:]
        h = inputs_embeds
        position_embeddings = self.lm.rotary_emb(h, position_ids)
        presents, k = [], 0
        for i, layer in enumerate(self.lm.layers):
            residual = h
            x = layer.input_layernorm(h)
            if self.types[i] == 'linear_attention':
                x, conv, rec = gated_delta_net(layer.linear_attn, x, new_mask, past[k], past[k + 1])
            else:
                cache = _Kv(past[k], past[k + 1])
                x, _ = layer.self_attn(x, position_embeddings=position_embeddings, attention_mask=mask4, past_key_values=cache)
                conv, rec = cache.key, cache.value
            presents += [conv, rec]
            k += 2
            h = residual + x
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        return (self.head(self.lm.norm(h)), *presents)


def state_names(types):
    ins, outs = [], []
    for i, t in enumerate(types):
        if t == 'linear_attention':
            ins += [f'past_conv.{i}', f'past_recurrent.{i}']
            outs += [f'present_conv.{i}', f'present_recurrent.{i}']
        else:
            ins += [f'past_key_values.{i}.key', f'past_key_values.{i}.value']
            outs += [f'present.{i}.key', f'present.{i}.value']
    return ins, outs


def empty_states(model, b, past_len=0):
    tc = model.config.text_config
    states = []
    for layer, t in zip(model.model.language_model.layers, tc.layer_types):
        if t == 'linear_attention':
            m = layer.linear_attn
            states += [torch.zeros(b, m.conv_dim, m.conv_kernel_size), torch.zeros(b, m.num_v_heads, m.head_k_dim, m.head_v_dim)]
        else:
            states += [torch.zeros(b, tc.num_key_value_heads, past_len, tc.head_dim) for _ in range(2)]
    return states


def export_decoder(out, model):
    tc = model.config.text_config
    decoder = HybridDecoder(model.model.language_model, model.lm_head).eval()
    ins, outs = state_names(tc.layer_types)
    b, s, p = 2, 4, 3
    states = empty_states(model, b, p)
    states = [torch.randn_like(t) for t in states]
    positions = torch.arange(p, p + s).view(1, 1, -1).expand(3, b, -1).contiguous()
    args = (torch.randn(b, s, tc.hidden_size), torch.ones(b, p + s, dtype=torch.int64), positions, *states)
    dyn = {'inputs_embeds': {0: 'batch_size', 1: 'sequence_length'}, 'attention_mask': {0: 'batch_size', 1: 'total_sequence_length'},
           'position_ids': {1: 'batch_size', 2: 'sequence_length'}, 'logits': {0: 'batch_size', 1: 'sequence_length'}}
    for n in ins:
        dyn[n] = {0: 'batch_size', 2: 'past_sequence_length'} if n.startswith('past_key_values') else {0: 'batch_size'}
    for n in outs:
        dyn[n] = {0: 'batch_size', 2: 'total_sequence_length'} if n.startswith('present.') else {0: 'batch_size'}
    path = os.path.join(out, 'onnx', 'decoder_model_merged.onnx')
    torch.onnx.export(decoder, args, path, input_names=['inputs_embeds', 'attention_mask', 'position_ids', *ins], output_names=['logits', *outs],
                      dynamic_axes=dyn, opset_version=18, dynamo=False)
    return decoder, path


def check_decoder(path, model, inputs, merged_embeds, positions):
    """The exported graph's prefill and one decode step against HF's own forward (chunked prefill, cached decode)."""
    import numpy as np
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    tc = model.config.text_config
    ins, _ = state_names(tc.layer_types)
    b = merged_embeds.shape[0]
    feeds = {'inputs_embeds': merged_embeds.numpy(), 'attention_mask': inputs['attention_mask'].numpy(), 'position_ids': positions.numpy()}
    feeds.update({n: t.numpy() for n, t in zip(ins, empty_states(model, b))})
    ours = sess.run(None, feeds)
    with torch.no_grad():
        theirs = model(**inputs).logits
    mask = inputs['attention_mask'].bool()
    diff = np.abs(ours[0] - theirs.numpy())[mask.numpy()].max()
    scale = np.abs(theirs.numpy()).max()
    assert diff < 1e-5 * max(scale, 1.0), f'prefill logits differ by {diff} (largest {scale})'
    return sess, ours
