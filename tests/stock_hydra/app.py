"""Stock Hydra, without graphduel's pre-flight: the same @hydra.main as train.py over the same conf/ (the
same schemas registered), printing what it composed. tests/test_config_dirs.py holds train.py's pre-flight
to accepting and refusing exactly what this accepts and refuses."""
import json
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from src.config import register_configs  # noqa: E402

register_configs()


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(cfg) -> None:
    print(json.dumps({"model": cfg.model.name, "runtime": cfg.runtime.name, "max_steps": cfg.trainer.max_steps,
                      "seed": cfg.seed, "run_dir_name": os.path.basename(HydraConfig.get().run.dir)}))


if __name__ == "__main__":
    main()
