"""Step 05: on PROMOTE export one ONNX per seed; always write the report and the results tarball the collaborator
sends back (only what this verdict made). Earlier exports and tarballs are moved aside, never deleted."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kit.bundle.aside import adopt_recorded, check_written, record, set_aside
from kit.corpus.manifests import corpus_sha256
from kit.errors import InputError
from kit.events import BundleWritten, Epoch, Forecast, Info
from kit.infra.clock import utc_compact
from kit.infra.faults import kill_point
from kit.infra.perms import user_name
from kit.infra.shown import Places, Spelled
from kit.infra.tree import Tree
from kit.model.contract import CANONICAL6
from kit.model.cost import BUNDLE_CORPUS_WORK, TEXTS_DONE, WORK_PER_PARAM_STEP, bundle_parts, bundle_work
from kit.model.recipe import TEACHER
from kit.model.threads import apply_threads, choose_threads
from kit.rundir import CORPUS_CONTENTS, LAYOUT
from kit.steps.after import Parts
from kit.steps.base import (
    Context,
    Outcome,
    Plan,
    cached_sha256,
    recorded_corpus,
    require_output,
    rerun,
    teacher_sources,
)
from kit.steps.memory import check_memory
from kit.steps.records import read_run_record, read_step_record, sent_run, shown_run

if TYPE_CHECKING:  # the report, the tarball's writer and the verdict's record (numpy with them) load with the
    # bundle's run, not when `status` plans it
    from kit.report.html import Invocation
    from kit.verdict.document import Verdict


def find_verdict(ctx: Context) -> tuple[str, Path]:
    found = ctx.run.verdicts_on_disk(ctx.tree)
    if len(found) != 1:
        foreign = [f"{path} (user {user_name(entry.st.st_uid)}'s)" for _, path in found
                   if (entry := ctx.tree.entry(path)) is not None and not entry.mine]
        raise InputError(f"expected exactly one of PROMOTE.json / HOLD.json in {ctx.run.step('verdict')}, "
                         f"found {len(found)}" + (f": {', '.join(foreign)} is not yours" if foreign else ""),
                         hint="remove it (the kit never uses what another user made), then rerun" if foreign else
                         f"rerun the verdict step: {rerun(ctx, 'step', 'verdict')}")
    name, path = found[0]
    # exactly as the verdict step wrote it: a hand-edited PROMOTE must never export models
    return name, require_output(ctx, path, "verdict")


class BundleStep:
    name = "bundle"

    def plan(self, ctx: Context) -> Plan:
        if ctx.corpus_only is not None:
            return self.plan_corpus(ctx)
        verdict, path = find_verdict(ctx)
        return Plan(settings=ctx.fingerprint(),
                    inputs={"verdict": f"{verdict}:{cached_sha256(ctx.tree, path)}", **self.corpus_records(ctx),
                            **signer()},
                    prepared=self.earlier(ctx))

    @staticmethod
    def corpus_records(ctx: Context) -> dict[str, str]:
        """The corpus step's records the tarball carries and the report reads (the shard's manifest, the clips left
        out), by their sha256: a clip added to or gone from the left-out ones changes what the lead is sent. Sent
        for this box's own shard alone, as the run decides (kit.bundle.contents): a corpus given with --corpus
        elsewhere has none here; given as this out-dir's shard, it has them."""
        run = ctx.run
        if (given := ctx.settings.corpus) is not None and run.found(run.recorded(given)) != run.shard:
            return {}
        return {p.name: cached_sha256(ctx.tree, p) for p in (run.shard_manifest, run.skipped_clips)
                if ctx.tree.is_file(p)}

    def earlier(self, ctx: Context) -> dict[str, str]:
        earlier, _ = read_step_record(ctx.tree, ctx.run.status(self.name))
        return dict(earlier.outputs) if earlier is not None else {}

    def plan_corpus(self, ctx: Context) -> Plan:
        """A box that cannot train bundles the corpus step's files and logs alone."""
        run = ctx.run
        inputs = {"shard": cached_sha256(ctx.tree, require_output(ctx, run.shard, "corpus"))}
        inputs |= self.corpus_records(ctx) | signer()
        # the settings of the models (their entries' `models`) make nothing of a corpus-only bundle
        return Plan(settings=ctx.fingerprint(facts={"contents": CORPUS_CONTENTS}, models=False),
                    inputs=inputs, prepared=self.earlier(ctx))

    def run_corpus(self, ctx: Context, plan: Plan) -> Outcome:
        """The corpus-only bundle: a results tarball of this box's corpus, for the lead to merge and train on."""
        from kit.bundle.contents import corpus_files

        run = ctx.run
        ctx.emit(Forecast(self.name, BUNDLE_CORPUS_WORK))
        box, utc = ctx.settings.box_id, utc_compact()
        self.clear_the_way(ctx, plan)
        shard = require_output(ctx, run.shard, "corpus")
        files = corpus_files(ctx.tree, run, shard, ctx.settings.keep_paths)
        tarball, moved = self.ship(ctx, utc, files, {"box_id": box, "contents": CORPUS_CONTENTS, "created_utc": utc,
                                                     "corpus_sha256": corpus_sha256(shard), **catalogue_mark(ctx)})
        ctx.emit(Info(self.name, f"corpus only: training happens at the lead; send {tarball.name}"))
        ctx.emit(BundleWritten(str(tarball), len(files) + 1, ctx.tree.sha256(tarball)))
        return Outcome([tarball], {"contents": CORPUS_CONTENTS, "tarball": run.rel(tarball),
                                   **({"moved_aside": run.rel(run.set_aside(utc))} if moved else {})})

    def run(self, ctx: Context, plan: Plan) -> Outcome:
        if ctx.corpus_only is not None:
            return self.run_corpus(ctx, plan)
        # torch, onnx and the report load here, not when planning: `status` plans every step
        from kit.bundle.contents import tarball_files
        from kit.bundle.sent import shown_prereqs, shown_verdict
        from kit.infra.records import read_record
        from kit.media.discovery import SkippedClips
        from kit.platforms.prereqs import read_prereqs
        from kit.report.html import load_report_data, render_report
        from kit.verdict.document import read_verdict

        run, tree, places = ctx.run, ctx.tree, self.places(ctx)
        _, verdict_path = find_verdict(ctx)
        verdict = read_verdict(tree, verdict_path)
        corpus = self.check_corpus(ctx, verdict)  # before any work: the tarball and the refit need it as it was
        parts = self.forecast(ctx, verdict)
        box, utc = ctx.settings.box_id, utc_compact()
        self.clear_the_way(ctx, plan)
        # built aside, moved into place once the tarball is written: a failed bundle leaves exports/ as they were
        staged = tree.new_temp_folder(run.exports) if verdict.promoted else None
        try:
            built = self.export(ctx, verdict, corpus, staged, parts) if staged is not None else []
            kill_point("bundle-exported")  # the harness's instant: models built, nothing in place yet
            exports = {run.exports / p.relative_to(staged): p for p in built} if staged is not None else {}
            # the report is sent as it is: written from the records as the lead is sent them (kit.bundle.sent)
            # this box's left-out clips where the verdict is on its own shard (none without a readable record);
            # on a corpus given elsewhere the report says the clips its manifest left out
            skipped, _ = read_record(SkippedClips, tree, run.skipped_clips if places.kept else
                                     run.sent(run.skipped_clips)) if corpus == run.shard else (None, None)
            prereqs, _ = read_prereqs(tree, run.prereqs_json)
            parts.at("report", "writing the report", 0.0)
            data = load_report_data(verdict, require_output(ctx, run.predictions, "loso"),
                                    invocation(tree, run.run_json, places),
                                    shown_prereqs(prereqs, places) if prereqs is not None else None,
                                    require_output(ctx, run.intervals, "verdict") if verdict.intervals else None,
                                    skipped.skipped if skipped is not None else (), corpus)
            tree.write_text(run.report, render_report(shown_verdict(verdict, run, places), data))
            files = tarball_files(tree, run, verdict, verdict_path, exports,
                                  lambda path, producer: require_output(ctx, path, producer), corpus, places.kept)
            tarball, moved = self.ship(ctx, utc, files, {"box_id": box, "verdict": verdict.verdict, "created_utc": utc,
                                                         "corpus_sha256": verdict.corpus.sha256, **catalogue_mark(ctx)},
                                       staged, exports, parts)
        except BaseException:
            if staged is not None and tree.is_folder(staged):
                tree.remove_folder(staged)  # gone once placed
            raise
        ctx.emit(BundleWritten(str(tarball), len(files) + 1, tree.sha256(tarball)))
        models = [p for p in exports if p.suffix == ".onnx"]
        native = sum(p.parent == run.exports for p in models)
        return Outcome([run.report, tarball, *exports], {
            "verdict": verdict.verdict, "tarball": run.rel(tarball), "onnx_models": native,
            "vmaftune_models": len(models) - native, **({"moved_aside": run.rel(run.set_aside(utc))} if moved else {})})

    def forecast(self, ctx: Context, verdict: Verdict) -> Parts:
        """The bundle's work for the run's ETA: the refit, the exports, the report and the tarball
        (kit.model.cost.bundle_work); its parts after the refit, said as they go."""
        rows, seeds = verdict.corpus.rows, len(verdict.seeds)
        cost = bundle_work(rows, seeds, ctx.settings.train, choose_threads().train, verdict.promoted)
        ctx.emit(Forecast(self.name, round(cost.work), round(cost.training), round(cost.setup)))
        return Parts(ctx, self.name, bundle_parts(rows, seeds, ctx.settings.train, verdict.promoted))

    def check_corpus(self, ctx: Context, verdict: Verdict) -> Path:
        """The corpus the verdict was reached on, where it is now (this out-dir's shard, wherever the out-dir lies),
        refused (exit 2) when it is missing or changed since: the refit reads it, and the tarball of a verdict on this
        box's shard ships that shard (a tarball without it is never offered as the one to send). Its memory is checked
        before it is read (kit.steps.memory)."""
        corpus = recorded_corpus(ctx, verdict.corpus.path)
        if corpus == ctx.run.shard and not ctx.tree.is_file(corpus):
            raise InputError(Spelled("the verdict was reached on this box's corpus ", corpus, ", which is missing: a "
                                     "results tarball without it would hold a verdict the lead can neither merge nor "
                                     "check"),
                             hint="restore it, or rerun the run, whose corpus step makes it again from the jobs it "
                                  f"keeps: {rerun(ctx, 'run')}")
        if not corpus.is_file():
            raise InputError(Spelled("the corpus ", corpus, " the verdict was reached on is missing"),
                             hint="restore it, or rerun from LOSO on the corpus you give: "
                                  + rerun(ctx, "run", "--from", "loso"))
        check_memory(ctx, corpus)  # from its footer, before its identity reads its rows
        if corpus_sha256(corpus) != verdict.corpus.sha256:
            raise InputError(Spelled("the corpus ", corpus, " changed since the verdict was reached"),
                             hint="rerun from LOSO: " + rerun(ctx, "run", "--from", "loso"))
        return corpus

    def clear_the_way(self, ctx: Context, plan: Plan) -> None:
        """Before any work: a killed bundle's leftovers removed; refused, what the kit cannot prove it wrote."""
        run, tree = ctx.run, ctx.tree
        tree.remove_stale(run.step(self.name), names=[run.exports.name])
        tree.check_planted(run.exports)
        adopt_recorded(tree, run, plan.prepared if isinstance(plan.prepared, dict) else {})
        check_written(tree, run)

    def ship(self, ctx: Context, utc: str, files: dict[str, Path], meta: dict[str, object], staged: Path | None = None,
             exports: dict[Path, Path] | None = None, parts: Parts | None = None) -> tuple[Path, list[Path]]:
        """The results tarball written, the earlier bundle's files moved aside (returned), new exports put in place;
        its texts checked and its members packed told to `parts`."""
        from kit.bundle.tarball import write_results_tarball
        from kit.infra.keys import sign_manifest

        run, tree = ctx.run, ctx.tree
        stem = run.results_stem(ctx.settings.box_id, utc)
        aside = run.set_aside(utc)
        tarball = run.tarball(stem)
        part = chain_part(tree, files)
        sent = write_results_tarball(tree, tarball, stem, files, meta,
                                     before_place=lambda digest: record(tree, run, {tarball: digest}),
                                     built=self.sent_members(ctx, files, parts),
                                     sign=lambda document: sign_manifest(document, ctx.settings.box_id, part),
                                     said=lambda arc, share: parts.at("tarball", f"packing {arc} into the tarball",
                                                                       share) if parts is not None else None)
        if sent.box_key is not None:
            ctx.emit(Info(self.name, f"signed by this box's key {sent.box_key.fingerprint} (kept in the kit's cache, "
                                     "never sent): the lead's verify shows that fingerprint"))
        try:
            if moved := set_aside(tree, run, aside, keep=tarball):
                ctx.say(self.name, Spelled(f"moved aside, not deleted: {', '.join(p.name for p in moved)} of an "
                                           "earlier bundle, now in ", aside, " (none of it goes into the new tarball)"))
            if staged is not None:
                record(tree, run, {dest: tree.sha256(src) for dest, src in (exports or {}).items()})
                tree.move_into(staged, run.exports.parent, run.exports.name)
        except BaseException:
            tree.remove(tarball)  # a tarball of a bundle that did not complete is not the latest results
            raise
        return tarball, moved

    @staticmethod
    def places(ctx: Context) -> Places:
        """The box's folders as what this bundle sends shows them: as they are with --keep-paths."""
        return Places.KEPT if ctx.settings.keep_paths else ctx.places

    def sent_members(self, ctx: Context, files: dict[str, Path], parts: Parts | None = None) -> dict[str, bytes]:
        """The members the box sends in place of its files: the records with the box's folders shown and its facts
        typed (kit.bundle.sent), then every text of every member checked by its kind (kit.bundle.texts: a text no kind
        admits withheld, a table or model holding one refused as a bug); none with --keep-paths, which sends the
        files as they are."""
        from kit.bundle.texts import check_tables, checked_members

        if self.places(ctx).kept:
            return {}
        said = parts.at if parts is not None else lambda part, what, share: None
        said("texts", "the records sent with the box's folders shown", 0.0)
        built = self.sent_records(ctx, files)
        said("texts", "checking every text of the tarball's records and logs by the catalogue", TEXTS_DONE["records"])
        checked, names = checked_members(lambda arc: ctx.tree.read_bytes(files[arc], trusted=False), list(files),
                                         built)
        built |= checked
        said("texts", "checking every text of the tarball's tables and models by the catalogue", TEXTS_DONE["members"])
        check_tables(files, names)
        return built

    def sent_records(self, ctx: Context, files: dict[str, Path]) -> dict[str, bytes]:
        """The members sent as their record with the box's folders shown (kit.bundle.sent; none with --keep-paths)."""
        from kit.bundle.sent import sent_records

        places, run, tree = self.places(ctx), ctx.run, ctx.tree
        if places.kept:
            return {}

        def run_json(path: Path) -> dict[str, object] | None:
            found, _ = read_run_record(tree, path)
            return sent_run(found, places) if found is not None else None

        return sent_records(tree, run, files, places, {run.rel(run.run_json): run_json})

    def export(self, ctx: Context, verdict: Verdict, corpus: Path, folder: Path, parts: Parts) -> list[Path]:
        """On PROMOTE: the seeds refit on the verdict's corpus (`corpus`: where it is now) and exported into `folder`;
        the files written."""
        from kit.bundle.conformal import confidence
        from kit.bundle.models import export_ensemble
        from kit.bundle.registry import check_proposed
        from kit.bundle.vmaftune import Shipping, crf_coverage

        settings = ctx.settings
        check_proposed(verdict.seeds, settings.model_license, settings.model_license_url, verdict.teacher.tag)
        calibration = require_output(ctx, ctx.run.calibration, "verdict") if verdict.intervals is not None else None
        ship = Shipping(settings.model_license, settings.model_license_url, confidence(verdict.intervals), calibration)
        if verdict.recipe == TEACHER and verdict.correction is not None and verdict.correction.scale == 0.0:
            ctx.emit(Info(self.name, f"PROMOTE: the export keeps no correction, so its {len(verdict.seeds)} networks "
                                     "are not trained (each would be multiplied by 0); each member is the teacher's "
                                     "function as LOSO chose it"))
        else:
            ctx.emit(Info(self.name, f"PROMOTE: refitting {len(verdict.seeds)} seeds on all {verdict.corpus.rows} "
                                     "rows"))
        if settings.train.inputs != CANONICAL6:
            ctx.emit(Info(self.name, f"no vmaf-tune profile: vmaf-tune feeds the canonical six, and these models take "
                                     f"--inputs {settings.train.inputs} (docs/teachers.md)"))
        for coverage in crf_coverage(verdict, settings.vmaftune_crf_range):
            if coverage.unmeasured:
                ctx.emit(Info(self.name, coverage.sentence()))
        threads = choose_threads()
        apply_threads(threads)
        ctx.log(threads.describe())
        return export_ensemble(ctx.tree, verdict, settings.train, folder, settings.vmaftune_crf_range, ship,
                               lambda e, n, loss, steps: ctx.emit(Epoch(self.name, e, n, len(verdict.seeds), loss,
                                                                        round(steps * WORK_PER_PARAM_STEP))),
                               workers=threads.train, teacher_sources=teacher_sources(ctx), corpus_file=corpus,
                               said=lambda what, share: parts.at("exports", what, share))


def catalogue_mark(ctx: Context) -> dict[str, object]:
    """manifest.json's mark that the box checked every text by the catalogue (none with --keep-paths, whose files
    are sent as they are: verify and merge then read them as a kit's before the catalogue's)."""
    from kit.bundle.tarball import CATALOGUE, CATALOGUE_KEY

    return {} if ctx.settings.keep_paths else {CATALOGUE_KEY: CATALOGUE}


def signer() -> dict[str, str]:
    """The key the tarball is signed with, as a bundle's input: a new key (the box's cache wiped, or its key moved
    away after a fork) is a tarball to make again, signed by it."""
    from kit.infra.keys import public_key

    return {"box_key": public_key()}


def chain_part(tree: Tree, files: dict[str, Path]) -> str:
    """The part of a reference set the tarball's shard encodes (`--shard K/N`, as its manifest records it; "" for the
    whole set, or a tarball without the box's shard): a part's runs are a chain of their own (kit.infra.keys)."""
    from kit.corpus.manifests import ShardManifest
    from kit.infra.records import RecordError

    path = files.get(LAYOUT.rel(LAYOUT.shard_manifest))
    try:
        manifest = ShardManifest.from_json(tree.read_json(path), str(path)) if path is not None else None
    except (OSError, ValueError, RecordError):  # checked against its step's record before: the corpus step's to say
        manifest = None
    return manifest.shard.label if manifest is not None and manifest.shard is not None else ""


def invocation(tree: Tree, run_json: Path, places: Places) -> Invocation | None:
    """The report's view of run.json, its paths as `places` shows them (None when it is missing or damaged: the
    report says so)."""
    from kit.report.html import Invocation

    record, _ = read_run_record(tree, run_json)
    if record is None:
        return None
    shown = shown_run(record, places)
    return Invocation(shown.invoked_at_utc, shown.argv, shown.provenance)
