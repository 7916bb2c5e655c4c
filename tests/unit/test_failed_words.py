"""The corpus step names a job one way and says how many of its jobs failed one way (the review of 2.3.0): a job as
kit.corpus.children.job_words names it, in its failure and in the line that says it is redone; "N of M <jobs>
failed; first: <the first one's message>" as kit.corpus.failures.failed_of says it, for the corpus jobs that stop
the step, those that leave no clip, and the sample jobs. Before: two job_words (`alpha libx264 cq37` in a redo line,
`alpha.y4m at libx264 cq 37` in the failure of the same job) and three wordings of the count (`... failed; first:`,
`... failed, leaving no clip; first:`, `... encodes' samplings could not be encoded on their own (first: ...)`)."""

from __future__ import annotations

import ast
import re

import pytest

from kit.corpus.children import JobFailed, job_words
from kit.corpus.failures import failed_clips, failed_of, refuse_failures
from kit.corpus.jobs import Job
from kit.corpus.samples import WHAT, samples_failed
from kit.errors import ToolError
from kit.media.libvmaf import Teacher
from kit.media.refs import Clip
from tests.conftest import ROOT

CLIP = Clip("/refs/alpha.y4m", "alpha", "y4m", 176, 144, "25/1", "yuv420p", 60, "ab" * 32)
JOB = Job(CLIP, "libx264", 37)
# a count said in an f-string: `{n} of {m} ... failed` (or `could not`), in the corpus step's modules but failed_of
COUNT_SAID = re.compile(r"\} of \{[^}]+\}[^\"\n]*(fail|could not)")


def failure() -> JobFailed:
    return JobFailed(f"{CLIP.path}: libvmaf crashed (SIGSEGV) scoring {job_words(JOB)}", clip_path=CLIP.path)


def test_a_job_is_named_one_way() -> None:
    assert job_words(JOB) == "alpha.y4m at libx264 cq 37"
    assert job_words(JOB, WHAT) == "alpha.y4m's windows on their own (the consumer's samplings) at libx264 cq 37"
    defined = [path.relative_to(ROOT).as_posix() for path in (ROOT / "kit").rglob("*.py")
               for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.FunctionDef) and node.name == "job_words"]
    assert defined == ["kit/corpus/children.py"]


def test_every_count_of_failed_jobs_is_said_one_way() -> None:
    first = failure()
    with pytest.raises(JobFailed) as stopped:
        refuse_failures([ToolError("ffmpeg cannot start")], 8, Teacher("vmaf_v0.6.1", "", ""))
    with pytest.raises(JobFailed) as none_left:
        failed_clips([first, first], [CLIP], False, 8)
    said = [str(stopped.value.message), str(none_left.value.message), str(samples_failed([first], 3))]
    assert said == [f"{failed_of(1, 8, 'corpus jobs')}ffmpeg cannot start",
                    f"{failed_of(2, 8, 'corpus jobs', ', leaving no clip')}{first.message}",
                    f"{failed_of(1, 3, 'sample jobs')}{first.message}; the step stops, and a rerun of the same "
                    "command tries them again"]
    assert said[0] == "1 of 8 corpus jobs failed; first: ffmpeg cannot start"
    spelled = [(path.relative_to(ROOT).as_posix(), line.strip()) for folder in ("corpus", "steps")
               for path in sorted((ROOT / "kit" / folder).rglob("*.py"))
               for line in path.read_text().splitlines() if COUNT_SAID.search(line)]
    assert spelled == [("kit/corpus/failures.py", 'return f"{n_failed} of {n_jobs} {what} failed{left}; first: "')]
