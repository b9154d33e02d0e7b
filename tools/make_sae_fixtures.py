"""
One-off generator of the SAE fixtures in test/fixtures/sae-libs/: small SAEs (d_in 16) written by the
real libraries' own save functions, each with reference.safetensors holding inputs x and what the
library itself computes from them (acts = encode(x); out = the library's forward / decode(encode(x))).

The libraries are imported from their public sources, extracted OUTSIDE this repository (never
committed here):
    $SAE_LIB_SRC/saelens-6.18   SAELens 6.18.0 (git archive of tag v6.18.0)
    $SAE_LIB_SRC/saelens-5.11   SAELens 5.11.0 (git archive of tag v5.11.0)
    $SAE_LIB_SRC/sparsify       EleutherAI sparsify 1.3.0 (git archive of main)
    $SAE_LIB_SRC/tl-2.18        TransformerLens 2.18.0, for transformer_lens.hook_points
    $SAE_LIB_SRC/simple-parsing SimpleParsing, for sparsify's Serializable config (its to_dict writes cfg.json)
and run in a venv outside the repository with torch, safetensors, numpy, einops, jaxtyping,
typing_extensions, transformers, datasets, huggingface_hub, rich, pyyaml, requests, packaging,
natsort, accelerate and docstring-parser from the local pip mirror:

    python3 -m venv /work/venvs/sae && /work/venvs/sae/bin/pip install torch safetensors ...
    /work/venvs/sae/bin/python tools/make_sae_fixtures.py            # writes test/fixtures/sae-libs
    /work/venvs/sae/bin/python tools/make_sae_fixtures.py --check-export DIR   # SAELens 6.18 loads an Ocular export

What is stubbed, and why it does not touch saving:
  - the packages' __init__ modules (sae_lens, sparsify, transformer_lens) are replaced by empty
    namespace modules, because they import training runners, HookedTransformer, wandb and other
    things absent from the mirror; the SAE, config, loader and save modules themselves are the
    libraries' own, and sae_lens's class registrations are replayed from its __init__ source;
  - SAELens 5.11's sae_lens.config imports wandb (run logging only): an empty module stands in.
Each library version runs in its own subprocess, since two versions of sae_lens cannot share one.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

SRC = Path(os.environ.get("SAE_LIB_SRC", "/work/venvs/src"))
OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "sae-libs"
D_IN = 16
ROWS = 12


def namespace(name: str, path: Path, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__path__ = [str(path)]  # type: ignore[attr-defined]
    for k, v in attrs.items():
        setattr(mod, k, v)
    sys.modules[name] = mod
    return mod


def common_stubs() -> None:
    sys.path[:0] = [str(SRC / "simple-parsing")]
    namespace("transformer_lens", SRC / "tl-2.18" / "transformer_lens")


def load_saelens(folder: str):
    """sae_lens without its __init__: the version string, a logger, then the registrations it makes."""
    import logging

    root = SRC / folder / "sae_lens"
    init = (root / "__init__.py").read_text()
    version = re.search(r'__version__ = "([^"]+)"', init).group(1)
    namespace("sae_lens", root, __version__=version, logger=logging.getLogger("sae_lens"))
    return version, init


def register_saelens6():
    _, init = load_saelens("saelens-6.18")
    import sae_lens.saes as saes
    from sae_lens.registry import register_sae_class, register_sae_training_class

    for m in re.finditer(r"register_sae(_training)?_class\(\s*\"(\w+)\",\s*(\w+),\s*(\w+),?\s*\)", init):
        fn = register_sae_training_class if m.group(1) else register_sae_class
        fn(m.group(2), getattr(saes, m.group(3)), getattr(saes, m.group(4)))
    return saes


# ---------------------------------------------------------------------------------------------
# shared helpers


def torch_mod():
    import torch

    return torch


def randomize(module, seed: int, scale: float = 0.3) -> None:
    torch = torch_mod()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            p.copy_((torch.randn(p.shape, generator=g) * scale).to(p.dtype))


def inputs(seed: int, d: int = D_IN, offset: float = 0.0, scale: float = 1.0):
    torch = torch_mod()
    g = torch.Generator().manual_seed(seed)
    return torch.randn(ROWS, d, generator=g) * scale + offset


def save_reference(folder: Path, **tensors) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().to(torch_mod().float32).contiguous() for k, v in tensors.items()}, str(folder / "reference.safetensors"))


def fresh(name: str) -> Path:
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    return folder


RUNNER_METADATA = dict(
    model_name="ocular-demo-vlm",
    model_class_name="HookedTransformer",
    hook_head_index=None,
    context_size=256,
    seqpos_slice=[None],
    model_from_pretrained_kwargs={"center_writing_weights": False},
    prepend_bos=False,
    exclude_special_tokens=False,
    dataset_path="ocular/shapes-vqa",
    sequence_separator_token="bos",
    disable_concat_sequences=False,
)


def set_metadata(sae, hook_name: str, **extra) -> None:
    """What SAELens 6's LanguageModelSAETrainingRunner._set_sae_metadata writes before saving."""
    for k, v in {**RUNNER_METADATA, "hook_name": hook_name, **extra}.items():
        sae.cfg.metadata[k] = v


# ---------------------------------------------------------------------------------------------
# SAELens 6.18


def saelens6() -> None:
    torch = torch_mod()
    saes = register_saelens6()
    from sae_lens.saes.sae import SAE, TrainingSAE
    from sae_lens.training.activation_scaler import ActivationScaler

    def reference_from_disk(folder: Path, x, cls=SAE, transcoder=False):
        sae = cls.load_from_disk(str(folder), dtype="float32")
        sae.eval()
        with torch.no_grad():
            acts = sae.encode(x)
            out = sae.forward(x) if transcoder else sae.decode(acts)
        return acts, out

    def inference(name, cfg_cls, sae_cls, seed, *, dtype="float32", hook="blocks.0.hook_resid_post", x=None, tweak=None, **kw):
        folder = fresh(name)
        cfg = cfg_cls(d_in=D_IN, d_sae=kw.pop("d_sae", 48), dtype=dtype, **kw)
        sae = sae_cls(cfg)
        randomize(sae, seed)
        if tweak:
            tweak(sae)
        set_metadata(sae, hook, **({"hook_name_out": "blocks.0.hook_mlp_out"} if "d_out" in kw else {}))
        sae.save_model(str(folder))
        x = inputs(seed + 100) if x is None else x
        acts, out = reference_from_disk(folder, x, transcoder="d_out" in kw)
        save_reference(folder, x=x, acts=acts, out=out)

    def positive_threshold(sae):
        with torch.no_grad():
            sae.threshold.copy_((torch.rand(sae.threshold.shape) * 0.4).to(sae.threshold.dtype))

    def uneven_decoder(sae):
        with torch.no_grad():
            sae.W_dec.mul_(torch.linspace(0.2, 3.0, sae.W_dec.shape[0]).unsqueeze(1).to(sae.W_dec.dtype))

    inference("saelens6-standard-f32", saes.StandardSAEConfig, saes.StandardSAE, 1)
    inference("saelens6-standard-bf16", saes.StandardSAEConfig, saes.StandardSAE, 2, dtype="bfloat16")
    inference("saelens6-square-f32", saes.StandardSAEConfig, saes.StandardSAE, 3, d_sae=D_IN)
    inference("saelens6-topk-f16", saes.TopKSAEConfig, saes.TopKSAE, 4, dtype="float16", k=5)
    inference("saelens6-topk-rescale-f32", saes.TopKSAEConfig, saes.TopKSAE, 5, k=5, rescale_acts_by_decoder_norm=True, tweak=uneven_decoder)
    inference("saelens6-jumprelu-f32", saes.JumpReLUSAEConfig, saes.JumpReLUSAE, 6, tweak=positive_threshold)
    inference("saelens6-gated-f32", saes.GatedSAEConfig, saes.GatedSAE, 7)
    inference(
        "saelens6-layernorm-f32", saes.StandardSAEConfig, saes.StandardSAE, 8, normalize_activations="layer_norm", x=inputs(108, offset=2.0, scale=5.0)
    )
    inference(
        "saelens6-constnorm-f32",
        saes.StandardSAEConfig,
        saes.StandardSAE,
        9,
        normalize_activations="constant_norm_rescale",
        x=inputs(109, offset=1.0, scale=7.0),
    )
    inference("saelens6-hookz-f32", saes.StandardSAEConfig, saes.StandardSAE, 10, hook="blocks.0.attn.hook_z", reshape_activations="hook_z", x=inputs(110).reshape(ROWS, 4, 4))
    common = dict(d_out=24, apply_b_dec_to_input=False, hook="blocks.0.hook_resid_mid")
    inference("saelens6-transcoder-f32", saes.TranscoderConfig, saes.Transcoder, 11, **common)
    inference("saelens6-skip-transcoder-f32", saes.SkipTranscoderConfig, saes.SkipTranscoder, 12, **common)
    inference("saelens6-jumprelu-transcoder-f32", saes.JumpReLUTranscoderConfig, saes.JumpReLUTranscoder, 13, tweak=positive_threshold, **common)

    def checkpoint(name, cfg_cls, sae_cls, seed, *, threshold=None, **kw):
        """A training checkpoint (TrainingSAE.save_model); the reference is SAELens's own inference form of it."""
        folder = fresh(name)
        sae = sae_cls(cfg_cls(d_in=D_IN, d_sae=48, **kw))
        randomize(sae, seed)
        uneven_decoder(sae)
        if threshold is not None:
            sae.topk_threshold = torch.tensor(threshold, dtype=torch.double)
        set_metadata(sae, "blocks.0.hook_resid_post")
        sae.save_model(str(folder))
        with tempfile.TemporaryDirectory() as tmp:
            sae.save_inference_model(tmp)
            x = inputs(seed + 100)
            acts, out = reference_from_disk(Path(tmp), x)
            inference_cfg = json.loads((Path(tmp) / "cfg.json").read_text())
        save_reference(folder, x=x, acts=acts, out=out)
        (folder / "inference-architecture.txt").write_text(inference_cfg["architecture"] + "\n")

    checkpoint("saelens6-batchtopk-checkpoint-f32", saes.BatchTopKTrainingSAEConfig, saes.BatchTopKTrainingSAE, 14, threshold=0.4137, k=4.0)
    checkpoint(
        "saelens6-matryoshka-checkpoint-f32",
        saes.MatryoshkaBatchTopKTrainingSAEConfig,
        saes.MatryoshkaBatchTopKTrainingSAE,
        15,
        threshold=0.2719,
        k=4.0,
        matryoshka_widths=[16, 48],
    )
    checkpoint("saelens6-topk-checkpoint-f32", saes.TopKTrainingSAEConfig, saes.TopKTrainingSAE, 16, k=5)

    # A trainer checkpoint taken while normalize_activations is expected_average_only_in: unfolded
    # weights beside activation_scaler.json (SAETrainer.save_trainer_state writes it with ActivationScaler.save).
    folder = fresh("saelens6-expected-average-checkpoint-f32")
    sae = saes.StandardTrainingSAE(saes.StandardTrainingSAEConfig(d_in=D_IN, d_sae=48, normalize_activations="expected_average_only_in"))
    randomize(sae, 17)
    set_metadata(sae, "blocks.0.hook_resid_post")
    sae.save_model(str(folder))
    scale = 0.0625
    ActivationScaler(scaling_factor=scale).save(str(folder / "activation_scaler.json"))
    sae.fold_activation_norm_scaling_factor(scale)  # what SAETrainer.fit does before the final save
    x = inputs(117, scale=16.0)
    with torch.no_grad():
        acts = sae.encode(x)
        out = sae.decode(acts)
    save_reference(folder, x=x, acts=acts, out=out)


def check_export(folders: list[str]) -> None:
    """Loads Ocular exports with SAELens 6.18's own loader and prints one line per folder of what it sees."""
    import warnings

    warnings.filterwarnings("ignore")
    torch = torch_mod()
    register_saelens6()
    from sae_lens.saes.sae import SAE
    from safetensors.torch import load_file

    for folder in folders:
        sae = SAE.load_from_disk(folder)
        cfg = json.loads((Path(folder) / "cfg.json").read_text())
        weights = load_file(str(Path(folder) / "sae_weights.safetensors"))
        line = {
            "folder": Path(folder).name,
            "class": type(sae).__name__,
            "dtype": str(sae.dtype),
            "tensors": sorted({str(t.dtype) for t in weights.values()}),
            "metadata_kept": sae.cfg.metadata.to_dict() == cfg["metadata"],
            "hook_name": sae.cfg.metadata.hook_name,
            "model_name": sae.cfg.metadata.model_name,
            "normalize": sae.cfg.normalize_activations,
        }
        ref = Path(folder) / "reference.safetensors"
        if ref.exists():
            r = load_file(str(ref))
            with torch.no_grad():
                acts = sae.to(torch.float32).encode(r["x"])
            line["max_abs_acts_diff"] = float((acts - r["acts"]).abs().max())
        print(json.dumps(line, default=str))


# ---------------------------------------------------------------------------------------------
# SAELens 5.11


def saelens5() -> None:
    torch = torch_mod()
    import importlib.machinery

    wandb = types.ModuleType("wandb")  # sae_lens.config imports it for run logging only
    wandb.__spec__ = importlib.machinery.ModuleSpec("wandb", None)
    sys.modules["wandb"] = wandb
    load_saelens("saelens-5.11")
    from sae_lens.sae import SAE, SAEConfig

    def flat_cfg(**kw):
        return SAEConfig(
            **{
                "architecture": "standard",
                "d_in": D_IN,
                "d_sae": 48,
                "activation_fn_str": "relu",
                "apply_b_dec_to_input": True,
                "finetuning_scaling_factor": False,
                "context_size": 128,
                "model_name": "gpt2",
                "hook_name": "blocks.3.hook_resid_pre",
                "hook_layer": 3,
                "hook_head_index": None,
                "prepend_bos": True,
                "dataset_path": "Skylion007/openwebtext",
                "dataset_trust_remote_code": True,
                "normalize_activations": "none",
                "dtype": "float32",
                "device": "cpu",
                "sae_lens_training_version": "5.11.0",
                **kw,
            }
        )

    def write(name, seed, tweak=None, **kw):
        folder = fresh(name)
        sae = SAE(flat_cfg(**kw))
        randomize(sae, seed)
        if tweak:
            tweak(sae)
        sae.save_model(str(folder))
        x = inputs(seed + 100)
        ref = SAE(flat_cfg(**{**kw, "dtype": "float32"}))
        ref.load_state_dict({k: v.float() for k, v in sae.state_dict().items()})
        with torch.no_grad():
            acts = ref.encode(x)
            out = ref.decode(acts)
        save_reference(folder, x=x, acts=acts, out=out)

    def scaling(sae):
        with torch.no_grad():
            sae.finetuning_scaling_factor.copy_(torch.linspace(0.5, 2.0, 48))

    def threshold(sae):
        with torch.no_grad():
            sae.threshold.copy_((torch.rand(48) * 0.4).to(sae.threshold.dtype))

    write("saelens5-finetuning-scale-f32", 21, tweak=scaling, finetuning_scaling_factor=True)
    write("saelens5-topk-bf16", 22, activation_fn_str="topk", activation_fn_kwargs={"k": 6}, dtype="bfloat16")
    write("saelens5-jumprelu-f32", 23, tweak=threshold, architecture="jumprelu")
    write("saelens5-gated-f32", 24, architecture="gated")
    write("saelens5-tanhrelu-f32", 25, activation_fn_str="tanh-relu")


# ---------------------------------------------------------------------------------------------
# sparsify


def sparsify() -> None:
    torch = torch_mod()
    os.environ["SPARSIFY_DISABLE_TRITON"] = "1"
    namespace("sparsify", SRC / "sparsify" / "sparsify")
    from sparsify.config import SparseCoderConfig
    from sparsify.sparse_coder import SparseCoder

    def write(name, seed, dtype=torch.float32, **kw):
        folder = fresh(name)
        coder = SparseCoder(D_IN, SparseCoderConfig(**kw), dtype=dtype)
        randomize(coder, seed)
        coder.save_to_disk(folder)
        ref = SparseCoder.load_from_disk(folder)
        ref = ref.to(torch.float32)
        x = inputs(seed + 100)
        with torch.no_grad():
            top_acts, top_idx, _ = ref.encode(x)
            acts = torch.zeros(ROWS, ref.num_latents).scatter_(-1, top_idx, top_acts)
            out = ref.forward(x).sae_out
        save_reference(folder, x=x, acts=acts, out=out)

    write("sparsify-topk-f32", 31, expansion_factor=4, k=4)
    write("sparsify-topk-square-f32", 32, expansion_factor=1, k=3)
    write("sparsify-topk-bf16", 33, dtype=torch.bfloat16, num_latents=40, k=5)
    write("sparsify-groupmax-f32", 34, activation="groupmax", num_latents=32, k=4)
    write("sparsify-transcoder-f32", 35, transcode=True, expansion_factor=3, k=4)
    write("sparsify-skip-transcoder-f32", 36, transcode=True, skip_connection=True, expansion_factor=3, k=4)
    write("sparsify-skip-sae-f32", 37, skip_connection=True, expansion_factor=2, k=4)


LIBS = {"saelens6": saelens6, "saelens5": saelens5, "sparsify": sparsify}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", choices=sorted(LIBS))
    ap.add_argument("--check-export", nargs="+", metavar="DIR")
    a = ap.parse_args()
    common_stubs()
    if a.check_export:
        check_export(a.check_export)
    elif a.lib:
        LIBS[a.lib]()
    else:
        OUT.mkdir(parents=True, exist_ok=True)
        for lib in LIBS:  # one subprocess per library version
            subprocess.run([sys.executable, __file__, "--lib", lib], check=True)
        print("wrote", len([p for p in OUT.iterdir() if p.is_dir()]), "fixtures to", OUT)


if __name__ == "__main__":
    main()
