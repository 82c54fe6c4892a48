"""DistributedDataParallel set-up from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK).

Without those variables the run is a single process and nothing here does
anything. With them, the process group uses nccl when CUDA is available and
gloo otherwise (CPU). Rank 0 alone writes files.

When every rank runs on this one machine (LOCAL_WORLD_SIZE == WORLD_SIZE)
and GLOO_SOCKET_IFNAME is unset, gloo is bound to the loopback interface:
otherwise it binds to whatever the host name resolves to, which on sandboxed
or container hosts may be no local address at all.

Example::

    dist = Distributed.from_environment()
    if dist.is_main: print("I write checkpoints")
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @classmethod
    def from_environment(cls) -> "Distributed":
        import torch

        world = int(os.environ.get("WORLD_SIZE", "1"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available()
        device = f"cuda:{local_rank}" if cuda else "cpu"
        if world <= 1:
            return cls(device="cuda" if cuda else "cpu")
        import torch.distributed as dist

        if cuda:
            torch.cuda.set_device(local_rank)
        else:
            _bind_gloo_to_loopback_on_one_node(world)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        return cls(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local_rank, device=device)

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def wrap(self, module):
        """DistributedDataParallel around ``module`` when distributed, else the module itself."""
        if not self.enabled:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.local_rank] if self.device.startswith("cuda") else None
        return DistributedDataParallel(module, device_ids=ids)

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def _bind_gloo_to_loopback_on_one_node(world: int) -> None:
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "0"))
    if local_world == world and "GLOO_SOCKET_IFNAME" not in os.environ and os.path.exists("/sys/class/net/lo"):
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
