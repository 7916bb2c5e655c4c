"""LOSO's memory is said before it is needed (issue 100: a lead must not learn the limit from an out-of-memory kill
hours in): the loso step refuses a corpus whose peak (kit.model.cost.loso_peak_bytes of its footer's rows) is more
than the box has, says it where less is free now; the Ray driver refuses a union no node of its cluster offers
that much for, and reserves it for each task that trains."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.cluster.ray import largest_offer
from kit.errors import ResourceLimit
from kit.events import Event, Info
from kit.infra import resources
from kit.model.cost import LOSO_FIXED_BYTES, LOSO_MARGIN, LOSO_ROW_BYTES, loso_peak_bytes
from kit.steps.s03_loso import check_memory
from tests.kitfiles import shard_table, write_shard


class Said:
    """What a step's context is told: its events and its log lines."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.lines: list[str] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def log(self, line: str) -> None:
        self.lines.append(line)


# the loso step's peak RSS at its defaults (wait4), measured on corpora of N contents x 300 rows scored by their teacher
# (bench/bench_scale.py --command; bench/README.md#scale-10000): rows -> MiB
MEASURED = {300_000: 727, 900_000: 1109, 3_000_000: 1908}


@pytest.mark.parametrize(("rows", "mib"), sorted(MEASURED.items()))
def test_the_estimate_holds_each_measured_peak_with_its_margin_and_no_more(rows: int, mib: int) -> None:
    """kit.model.cost's estimate is above each measured peak (a task that reserves it is not killed for memory) and
    within the margin and a tenth of it (a cluster is not refused a union it could train)."""
    assert mib * 2**20 <= loso_peak_bytes(rows) <= mib * 2**20 * (LOSO_MARGIN + 0.1)


def test_the_estimate_grows_with_the_rows_from_what_no_corpus_changes() -> None:
    assert LOSO_FIXED_BYTES > 2**28 and 100 < LOSO_ROW_BYTES < 2000  # the libraries; a row's share, measured
    assert loso_peak_bytes(45_000_000) > 16 * 2**30  # 150,000 contents: no one process of a 24 GiB box holds it


@pytest.mark.parametrize(("total", "free", "refused", "warned"), [
    (2**40, 2**40, False, False), (2**40, 2**20, False, True), (2**20, 2**20, True, False), (None, None, False, False)])
def test_a_corpus_the_box_cannot_hold_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  total: int | None, free: int | None, refused: bool,
                                                                  warned: bool) -> None:
    corpus = write_shard(tmp_path / "c.parquet", shard_table(n_src=3, rows_per_src=50))
    monkeypatch.setattr(resources, "box_memory", lambda: (total, free))
    ctx = Said()
    need = loso_peak_bytes(150)
    if refused:
        with pytest.raises(ResourceLimit) as exc:
            check_memory(ctx, corpus)  # type: ignore[arg-type]
        assert exc.value.message == (f"LOSO on the corpus {corpus} (150 rows) needs about "
                                     f"{resources.size_text(need)} of memory at its peak, more than the 1 MiB of this "
                                     "box")
        assert "the corpus is kept" in exc.value.hint and exc.value.exit_code == 2
        assert "KIT_MEMORY_CHECK=off trains it anyway" in exc.value.hint
        monkeypatch.setenv("KIT_MEMORY_CHECK", "off")  # the check overridden: said, and the step goes on
        check_memory(ctx, corpus)  # type: ignore[arg-type]
        assert [e.message for e in ctx.events if isinstance(e, Info)] == [
            f"LOSO on 150 rows needs about {resources.size_text(need)} of memory at its peak, more than the 1 MiB of "
            "this box: trained anyway (KIT_MEMORY_CHECK is off)"]
        return
    check_memory(ctx, corpus)  # type: ignore[arg-type]
    infos = [e for e in ctx.events if isinstance(e, Info)]
    assert bool(infos) == warned and (not infos or "may run out of memory" in infos[0].message)
    assert ctx.lines == []  # nothing in the step log, which the tarball sends by its catalogue


def test_the_largest_offer_of_a_ray_cluster_is_its_live_nodes_memory() -> None:
    nodes = [{"Alive": True, "Resources": {"CPU": 8.0, "memory": 12e9}},
             {"Alive": False, "Resources": {"memory": 99e9}},  # a node that left: offers nothing
             {"Alive": True, "Resources": {"CPU": 2.0, "memory": 3e9}}]
    assert largest_offer(nodes) == 12_000_000_000
    assert largest_offer([{"Alive": True, "Resources": {"CPU": 1.0}}]) is None
    assert largest_offer([]) is None


def test_the_box_s_memory_is_read_from_the_system() -> None:
    total, free = resources.box_memory()
    if total is None:
        pytest.skip("no /proc/meminfo on this system")
    assert free is not None and 0 < free <= total


class Task:
    """Ray's remote function as the driver calls it: the memory each submission reserved."""

    def __init__(self, reserved: list[int | None], memory: int | None = None) -> None:
        self.reserved, self.memory = reserved, memory

    def options(self, memory: int) -> Task:
        return Task(self.reserved, memory)

    def remote(self, *args: object) -> str:
        self.reserved.append(self.memory)
        return f"ref{len(self.reserved)}"


class Cluster:
    def __init__(self, offer: float | None) -> None:
        self.offer = offer

    def nodes(self) -> list[dict[str, object]]:
        return [{"Alive": True, "Resources": {"CPU": 2.0, **({"memory": self.offer} if self.offer else {})}}]


@pytest.mark.parametrize(("offer", "refused"), [(None, False), (2**40, False), (2**20, True)])
def test_the_ray_driver_reserves_loso_s_memory_or_refuses_before_any_task(tmp_path: Path, offer: float | None,
                                                                       refused: bool) -> None:
    """The union's LOSO memory, from its footer, reserved by each training task and the gather; a cluster whose every
    node offers less refused before a task is submitted; a union the union task has yet to merge reserves nothing."""
    from kit.cluster.plan import ClusterLayout, ClusterPlan
    from kit.cluster.ray import Driver
    from kit.steps.settings import RunSettings

    corpus = write_shard(tmp_path / "union-given.parquet", shard_table(n_src=3, rows_per_src=50))
    layout = ClusterLayout(tmp_path / "root", "ray")
    plan = ClusterPlan(layout, 0, ("kit",), tmp_path, RunSettings(out_dir=layout.union_out), "box", inputs=(corpus,),
                       train_tasks=2)
    reserved: list[int | None] = []
    said: list[str] = []
    driver = Driver(Cluster(offer), plan, Task(reserved), said.append)
    need = loso_peak_bytes(150)
    if refused:
        with pytest.raises(ResourceLimit) as exc:
            driver.memory()
        assert "the largest node of this Ray cluster offers its tasks 1 MiB" in exc.value.message
        assert "nothing was run" in exc.value.hint and reserved == []
        return
    assert driver.memory() == need
    assert said == [f"LOSO on the union's 150 rows needs about {resources.size_text(need)} of memory in each task that "
                    f"runs it; each reserves it{' (the largest node offers 1024 GiB)' if offer else ''}"]
    driver.array("training task", 2, [["kit", "step", "loso"]], lambda k: f"t{k}", need)
    assert reserved == [need, need]
    merged = ClusterPlan(layout, 0, ("kit",), tmp_path, RunSettings(out_dir=layout.union_out), "box",
                         inputs=(tmp_path / "a.tar.gz",), train_tasks=2)  # merged by the union task: not there yet
    assert Driver(Cluster(offer), merged, Task(reserved), said.append).memory() is None
