"""A model folder: four ONNX networks, their fp16 PyTorch weights and a manifest with checksums.

Layout of a model folder (the shipped one is ``mvtrack/weights``)::

    manifest.json            {"model_id", "networks": {"2ch_stage1": {...config, files, sha256, val_mm}}}
    2ch_stage1.onnx          inference (ONNX Runtime; no torch needed)
    2ch_stage1.pt            fp16 state dict + configs, for fine-tuning (torch.load(weights_only=True))
    ...
    2ch_stage2_critic.onnx   optional (manifest "critics"): a second stage 2 for QC (ModelSet.critic)

Loading checks every file's sha256 against the manifest and refuses a mismatch.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np

from mvtrack.errors import ModelError
from mvtrack.models.preprocess import normalise_images, targets_to_points

MANIFEST = "manifest.json"


def shipped_model_dir() -> Path:
    return Path(str(files("mvtrack") / "weights"))


def shipped_network(name: str):
    """(checkpoint path, NetworkConfig) of the shipped model's network ``name`` (e.g. "2ch_stage2"),
    to fine-tune it."""
    from mvtrack.models.network import NetworkConfig

    entry = read_manifest(shipped_model_dir())["networks"].get(name)
    if entry is None or not entry.get("weights"):
        raise ModelError(f"the shipped model has no trainable weights for {name}")
    config = {k: v for k, v in entry["network"].items() if k != "input_shape"}
    return verified_file(shipped_model_dir(), entry, "weights"), NetworkConfig(**config)


def sha256_of(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(model_dir: Path | str) -> dict:
    path = Path(model_dir) / MANIFEST
    if not path.exists():
        raise ModelError(f"{model_dir}: not a model folder (no {MANIFEST})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: unreadable manifest ({exc})") from None


def verified_file(model_dir: Path | str, entry: dict, key: str) -> Path:
    """The path of ``entry[key]`` inside the model folder after checking its sha256."""
    path = Path(model_dir) / entry[key]
    if not path.exists():
        raise ModelError(f"{path}: missing model file")
    expected = entry.get(f"{key}_sha256")
    if expected and sha256_of(path) != expected:
        raise ModelError(f"{path}: checksum mismatch (corrupt or modified weights)")
    return path


@dataclass
class OnnxNetwork:
    """One network under ONNX Runtime: frames in the stage's pixels -> points in the same pixels."""

    name: str
    session: object
    input_shape: tuple[int, int]

    def predict(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """(N, H, W) images in the stage frame -> (N, 2, 2) points (x, y) in that frame."""
        normalised = normalise_images(images)[:, None]
        input_name = self.session.get_inputs()[0].name
        outputs = [self.session.run(None, {input_name: normalised[i:i + batch_size]})[0]
                   for i in range(0, len(normalised), batch_size)]
        return targets_to_points(np.concatenate(outputs), self.input_shape)


@dataclass
class EnsembleNetwork:
    """Several networks of one view and stage whose points are averaged (equal weights): networks that
    learnt differently err differently, and their mean errs less than either where they disagree."""

    name: str
    members: list[OnnxNetwork]

    @property
    def input_shape(self) -> tuple[int, int]:
        return self.members[0].input_shape

    #: (images, (M, N, 2, 2) each member's points) of the latest run, not copied: QC's second opinion on
    #: the last pass runs the members separately on the same crops, and then need not run them again
    _latest: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)

    def predict(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """(N, H, W) images in the stage frame -> (N, 2, 2) points, the mean of the members' points."""
        members = np.stack([member.predict(images, batch_size) for member in self.members])
        self._latest = (images, members)
        return members.mean(axis=0)

    def member(self, index: int) -> "_EnsembleMember":
        """One member as a network of its own (its points only), sharing the ensemble's memory."""
        return _EnsembleMember(self, index)

    def member_points(self, index: int, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """(N, H, W) images -> (N, 2, 2): member ``index``'s points, remembered when these images are the
        ones the ensemble ran on last (compared here, off the hot path), else computed."""
        latest = self._latest
        if latest is not None and latest[0].shape == images.shape and np.array_equal(latest[0], images):
            return latest[1][index]
        return self.members[index].predict(images, batch_size)


@dataclass
class _EnsembleMember:
    ensemble: EnsembleNetwork
    index: int

    @property
    def input_shape(self) -> tuple[int, int]:
        return self.ensemble.input_shape

    def predict(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        return self.ensemble.member_points(self.index, images, batch_size)


class ModelSet:
    """The networks of a model folder, loaded lazily per view and stage.

    A folder may hold only some networks (e.g. the output of one `mvtrack train` run); the others
    then come from the shipped model, and :meth:`ids` says which came from where.
    """

    def __init__(self, model_dir: Path | str | None = None, threads: int | None = None):
        self.model_dir = Path(model_dir) if model_dir else shipped_model_dir()
        self.manifest = read_manifest(self.model_dir)
        self.threads = threads
        self._networks: dict[str, OnnxNetwork] = {}
        self._fallback = None
        if self.model_dir.resolve() != shipped_model_dir().resolve() and (shipped_model_dir() / MANIFEST).exists():
            if len(self.manifest["networks"]) < 4:
                self._fallback = ModelSet(shipped_model_dir(), threads)

    @property
    def model_id(self) -> str:
        return str(self.manifest.get("model_id", self.model_dir.name))

    def has(self, view: str, stage: int) -> bool:
        own = f"{view.lower()}_stage{stage}" in self.manifest["networks"]
        return own or (self._fallback is not None and self._fallback.has(view, stage))

    def network(self, view: str, stage: int) -> OnnxNetwork | EnsembleNetwork:
        """The network of (view, stage); an :class:`EnsembleNetwork` where the manifest entry lists
        further ``ensemble`` members (ONNX files, checksummed) whose points are averaged with its own."""
        name = f"{view.lower()}_stage{stage}"
        if name not in self._networks:
            entry = self.manifest["networks"].get(name)
            if entry is None and self._fallback is not None:
                return self._fallback.network(view, stage)
            if entry is None:
                raise ModelError(f"{self.model_dir}: no network for {view} stage {stage}")
            network = self._onnx_network(name, entry)
            if entry.get("ensemble"):
                members = [self._onnx_network(f"{name}_member{k + 1}", member) for k, member in enumerate(entry["ensemble"])]
                network = EnsembleNetwork(name, [network, *members])
            self._networks[name] = network
        return self._networks[name]

    def critic(self, view: str) -> OnnxNetwork | None:
        """A second stage-2 network for ``view`` that learnt differently (manifest ``critics``), whose
        disagreement with stage 2 on the final track is a QC signal. A critic's threshold was set
        against one stage 2, so it goes with it: this folder's own critic, else the shipped model's
        only where this folder's stage 2 for ``view`` is the shipped one too; None otherwise."""
        name = f"{view.lower()}_stage2_critic"
        if name not in self._networks:
            entry = self.manifest.get("critics", {}).get(f"{view.lower()}_stage2")
            if entry is None:
                own_stage2 = f"{view.lower()}_stage2" in self.manifest["networks"]
                return self._fallback.critic(view) if self._fallback is not None and not own_stage2 else None
            self._networks[name] = self._onnx_network(name, entry)
        return self._networks[name]

    def _onnx_network(self, name: str, entry: dict) -> OnnxNetwork:
        """An ONNX Runtime session of a manifest entry's (checksummed) ONNX file."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or min(os.cpu_count() or 1, 4)
        options.inter_op_num_threads = 1
        # no busy-waiting between runs: with other work on the CPUs (ffmpeg, other workers) spinning
        # threads slowed stage 2 by half here; alone it makes no difference
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        session = ort.InferenceSession(str(verified_file(self.model_dir, entry, "onnx")), options, providers=providers)
        return OnnxNetwork(name, session, tuple(entry["network"]["input_shape"]))

    def weights_file(self, view: str, stage: int) -> Path:
        """The fp16 PyTorch weights (checksum checked) of the network this set uses for (view, stage): its
        own, or the shipped model's where it falls back to them, as :meth:`network` does."""
        name = f"{view.lower()}_stage{stage}"
        entry = self.manifest["networks"].get(name)
        if entry is None and self._fallback is not None:
            return self._fallback.weights_file(view, stage)
        if entry is None or not entry.get("weights"):
            raise ModelError(f"{self.model_dir}: no PyTorch weights for {name} (needed to fine-tune it, e.g. --adapt)")
        return verified_file(self.model_dir, entry, "weights")

    def ids(self) -> dict:
        """Per-network identifiers for results.json: model id, network name and weight checksum prefix."""
        ids = self._fallback.ids() if self._fallback is not None else {}
        ids.update({name: " + ".join(f"{self.model_id}/{name}@{member.get('onnx_sha256', '')[:12]}"
                                     for member in [entry, *entry.get("ensemble", [])])
                    for name, entry in self.manifest["networks"].items()})
        return ids


class WithStage2:
    """A model set whose stage-2 network for some views is replaced (an adapted one for ``--adapt``, a
    candidate under test in a script): ``stage2`` {view: network}; ``label`` goes into the model id and
    ``note`` after each replaced network's id in results.json."""

    def __init__(self, models, stage2: dict, label: str = "consistency", note: str = "adapted to this study"):
        self.models, self.stage2, self.label, self.note = models, stage2, label, note

    def has(self, view: str, stage: int) -> bool:
        return self.models.has(view, stage)

    def network(self, view: str, stage: int):
        if stage == 2 and view in self.stage2:
            return self.stage2[view]
        return self.models.network(view, stage)

    def critic(self, view: str):
        """No critic for a replaced stage 2: the critic's threshold was set against the original one."""
        if view in self.stage2 or not hasattr(self.models, "critic"):
            return None
        return self.models.critic(view)

    @property
    def model_id(self) -> str:
        return f"{self.models.model_id}+{self.label}"

    def ids(self) -> dict:
        ids = self.models.ids()
        for view in self.stage2:
            name = f"{view.lower()}_stage2"
            ids[name] = f"{ids.get(name, name)}, {self.note}"
        return ids
