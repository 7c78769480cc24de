"""A chunked-prefill budget that depends on the GPU's memory (``EngineProfile.prefill_chunk_tokens_by_hbm``)."""

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload


def test_sglang_sizes_its_chunk_from_the_gpus_memory():
    # sglang.toml's source: chunked_prefill_size 16384 on GPUs of 160 GiB or more, 8192 below. The catalogue's
    # B200 holds 180 GB = 167.6 GiB, MI300X 192 GB = 178.8 GiB; H200 141 GB = 131.3 GiB, H100 80 GB.
    cat = Catalogue()
    chunk = {system: Scenario(hardware=cat.hardware(system), model=model("llama-3.1-8b"),
                              workload=Workload(isl=1000, osl=100), profile=engine("sglang")).engine_profile
             .prefill_chunk_tokens for system in ("hgx-b200", "mi300x-8", "hgx-h200", "hgx-h100")}
    assert chunk == {"hgx-b200": 16384, "mi300x-8": 16384, "hgx-h200": 8192, "hgx-h100": 8192}
    # the per-GPU knobs still apply beside it: SGLang's [gpus.h200-sxm] arrival wait
    h200 = Scenario(hardware=cat.hardware("hgx-h200"), model=model("llama-3.1-8b"),
                    workload=Workload(isl=1000, osl=100), profile=engine("sglang")).engine_profile
    assert h200.arrival_wait_steps == engine("sglang").gpus["h200-sxm"]["arrival_wait_steps"]
    assert h200.arrival_wait_steps != engine("sglang").arrival_wait_steps
    # TensorRT-LLM's max_num_tokens does not depend on the GPU
    assert engine("trtllm").prefill_chunk_tokens_by_hbm is None
