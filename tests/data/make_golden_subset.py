"""Write the compact golden subset (``tests/data/golden``) from the full golden sets.

    python tests/data/make_golden_subset.py [--source ../shared/golden] [--out tests/data/golden]

The full sets (about 100 MB, kept outside the repository) hold, per case, the input, the official
output and intermediates as whole float32 tensors. The subset keeps what a plain clone needs to run
the same equivalence tests at the same tolerances, in a few MB:

* no weights: they are regenerated from the official key list (``canonical_state_dict`` in
  ``tests/golden_data.py``) and checked against the digests kept in ``meta.json``;
* no inputs: each input is ``torch.rand`` from its case's seed (checked here and in the tests
  against its digest);
* outputs and intermediates as float32 samples: every 8th row and column plus the last 4, and
  every 8th channel of 64-channel-or-wider features; the leading (batch, frame, stream) axes whole.
  float16 would be smaller but is nowhere safe: the atols (2e-7 to 1e-4) are below its resolution
  at these magnitudes. The sampled positions are written into ``meta.json``;
* tensors that a test feeds to a module on its own (unit and stress inputs) whole, for the folders
  listed in ``UNIT_INPUTS``; FCVSR's stress call gets our own stage outputs instead (see ``OMIT``);
  IconVSR Vimeo's unit checks are left out.

The output is deterministic: rerunning on the same sets rewrites identical files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from golden_data import digest, seeded_input, take  # noqa: E402

FOLDERS = ("ftvsr", "fcvsr", "fcvsr_s", "fcvsr_cvcp_y", "fcvsr_s_cvcp_y", "basicvsrpp", "iconvsr", "iconvsr_vimeo")

# Stored whole: a test runs a module on them (so a sample would not do).
UNIT_INPUTS = {
    "ftvsr": ("ftta_call0_q", "ftta_call0_kv"),
    "basicvsrpp": ("align_unit_x", "align_unit_cond", "align_unit_flow1", "align_unit_flow2"),
    "iconvsr": ("pcd_unit_nbr_l1", "pcd_unit_ref_l1", "pcd_unit_nbr_l2", "pcd_unit_ref_l2",
                "pcd_unit_nbr_l3", "pcd_unit_ref_l3", "tsa_unit_in"),
}
# FCVSR's stress call takes three whole 64-channel feature maps (3 MB per variant): the subset keeps
# a sample of its official output, and the tests feed it our own MGAA outputs, which match the
# official ones within atol (docs/golden.md). Not stored: IconVSR Vimeo's PCD/TSA unit checks (their
# inputs would cost 1.4 MB, and the REDS folder runs the same modules).
OMIT = {
    "iconvsr_vimeo": ("pcd_unit_nbr_l1", "pcd_unit_ref_l1", "pcd_unit_nbr_l2", "pcd_unit_ref_l2",
                      "pcd_unit_nbr_l3", "pcd_unit_ref_l3", "pcd_unit_out", "pcd_stress_out",
                      "tsa_unit_in", "tsa_unit_out", "tsa_stress_out"),
}
# meta.json entries the tests read; the rest (provenance, sensitivity tables, notes) stays in the
# full sets and is summarised in docs/golden.md.
META_KEYS = ("format", "model_name", "official", "canonical_rule", "n_state_dict_keys", "n_parameter_elements",
             "n_unique_parameter_elements", "parameter_count", "official_value_keys", "alias_pairs",
             "key_map_to_basicsr", "basicsr_key_order", "tolerance")
ROW_KEYS = ("key", "shape", "overwritten", "sha256_16")
CASE_KEYS = ("input_shape", "input_seed", "constructor_overrides", "output_shape")

STEP, BORDER, CHANNEL_STEP, MIN_CHANNELS = 8, 4, 8, 64


def spatial_positions(size: int) -> list[int] | None:
    """Every STEP-th position and the last BORDER ones (padding and crop quirks live at the edges)."""
    if size <= 4 * STEP:
        return None if size <= 2 * STEP else sorted(set(range(0, size, 2)) | set(range(size - BORDER, size)))
    return sorted(set(range(0, size, STEP)) | set(range(size - BORDER, size)))


def sample_index(shape: tuple[int, ...]) -> list | None:
    """Positions kept per dimension; ``None`` = all. Images and features end in (C, H, W)."""
    index: list = [None] * len(shape)
    if len(shape) >= 2:
        index[-2], index[-1] = spatial_positions(shape[-2]), spatial_positions(shape[-1])
    if len(shape) >= 3 and shape[-3] >= MIN_CHANNELS:
        index[-3] = list(range(0, shape[-3], CHANNEL_STEP))
    return None if all(i is None for i in index) else index


def trim_meta(meta: dict) -> dict:
    out = {k: meta[k] for k in META_KEYS if k in meta}
    out["state_dict"] = [{k: r[k] for k in ROW_KEYS} for r in meta["state_dict"]]
    out["subset_of"] = "full golden set; written by tests/data/make_golden_subset.py"
    return out


def make_folder(source: Path, out: Path, folder: str) -> int:
    meta = json.loads((source / folder / "meta.json").read_text())
    small = trim_meta(meta)
    small["cases"] = []
    dest = out / folder
    dest.mkdir(parents=True, exist_ok=True)
    omit, whole = set(OMIT.get(folder, ())), set(UNIT_INPUTS.get(folder, ()))
    for k, case in enumerate(meta["cases"]):
        blob = torch.load(source / folder / case["file"], map_location="cpu", weights_only=True)
        x = seeded_input(case["input_shape"], case["input_seed"])
        if not torch.equal(x, blob["input"]):
            raise SystemExit(f"{folder} {case['file']}: the stored input is not torch.rand "
                             f"from seed {case['input_seed']}")
        stored, info = {}, {}
        for name, t in blob.items():
            if name == "input" or name in omit:
                continue
            t = t.to(torch.float32)
            index = None if name in whole else sample_index(tuple(t.shape))
            stored[name] = take(t, index).contiguous().clone()
            info[name] = {"shape": list(t.shape), "index": index}
        file = f"case_{k}.safetensors"
        save_file(stored, str(dest / file))
        small_case = {key: case[key] for key in CASE_KEYS if key in case}
        small_case["file"] = file
        small_case["intermediates"] = [n for n in case["intermediates"] if n in stored]
        small_case["subset"] = {"input_sha256_16": digest(x), "tensors": info,
                                "omitted": sorted(n for n in case["intermediates"] if n not in stored)}
        small["cases"].append(small_case)
    (dest / "meta.json").write_text(json.dumps(small, separators=(",", ":")) + "\n")
    return sum(f.stat().st_size for f in dest.iterdir())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=TESTS.parents[1] / "shared" / "golden",
                    help="the full golden sets (default: ../shared/golden beside the checkout)")
    ap.add_argument("--out", type=Path, default=TESTS / "data" / "golden", help="where the subset goes")
    args = ap.parse_args(argv)
    if not (args.source / "ftvsr" / "meta.json").is_file():
        ap.error(f"no golden sets at {args.source}")
    total = 0
    for folder in FOLDERS:
        if (args.out / folder).exists():
            shutil.rmtree(args.out / folder)
        size = make_folder(args.source, args.out, folder)
        total += size
        print(f"{folder:16s} {size / 1e6:6.2f} MB")
    print(f"{'total':16s} {total / 1e6:6.2f} MB -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
