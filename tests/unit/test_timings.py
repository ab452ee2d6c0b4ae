"""sabr.analysis.timings: per-stage sums from the task runs' own clocks; cached runs are time saved."""
import math

import pytest

from sabr.analysis.timings import stage_timings, timings_markdown


def _t(start, wall, cpu, rss=100.0):
    return {"start": start, "end": start + wall, "wall_s": wall, "cpu_s": cpu, "peak_rss_mib": rss}


def test_stages_sum_computed_runs_and_count_cached_as_saved():
    t = stage_timings({
        "generate": [("Completed", _t(10, 5, 4.5)), ("Completed", _t(11, 6, 5.5, 300))],
        "train": [("Cached", _t(0, 50, 49)), ("Completed", _t(20, 8, 7)), ("Failed", None)],
    }, flow_started=9.0, flow_ended=39.0, workers=2, extra={"hf_path_steps_per_s": 2e7})
    g, tr = t["stages"]["generate"], t["stages"]["train"]
    assert (g["tasks"], g["computed"], g["cached"], g["failed"]) == (2, 2, 0, 0)
    assert g["task_wall_s"] == 11 and g["cpu_s"] == 10 and g["span_s"] == 7
    assert g["starts_after_s"] == 1 and g["peak_rss_mib"] == 300
    assert (tr["computed"], tr["cached"], tr["failed"]) == (1, 1, 1)
    assert tr["task_wall_s"] == 8 and tr["cached_compute_s"] == 50
    assert t["wall_s"] == 30 and t["task_wall_s"] == 19
    assert t["overhead_ratio"] == pytest.approx(30 * 2 / 19)
    md = timings_markdown(t)
    assert "| train | 3 | 1 | 1 | 1 |" in md and "overhead ratio" in md and "path-steps/s" in md


def test_tensorflow_process_starts_and_their_time_are_counted_per_stage():
    tf = [{**_t(0, 9, 5), "tf_process_started": True, "tf_process_s": 4.5},
          {**_t(9, 6, 5), "tf_process_started": False, "tf_process_s": 0.25},
          {**_t(15, 9, 5), "tf_process_started": True, "tf_process_s": 4.0}]
    t = stage_timings({"generate": [("Completed", _t(0, 5, 5))],
                       "train": [("Completed", x) for x in tf] + [("Cached", tf[0])]},
                      flow_started=0, flow_ended=30, workers=2)
    tr, g = t["stages"]["train"], t["stages"]["generate"]
    assert tr["tf_process_starts"] == 2 and tr["tf_process_s"] == pytest.approx(8.75)
    assert g["tf_process_starts"] == 0 and g["tf_process_s"] == 0
    md = timings_markdown(t)
    assert "TensorFlow processes started" in md and "train 2 (8.8 s)" in md


def test_a_fully_cached_run_has_no_task_time_and_no_ratio():
    t = stage_timings({"train": [("Cached", _t(0, 5, 5))]}, flow_started=0, flow_ended=3, workers=2)
    assert t["task_wall_s"] == 0 and math.isnan(t["overhead_ratio"])
    assert t["stages"]["train"]["span_s"] == 0 and "starts_after_s" not in t["stages"]["train"]


def test_slurm_jobs_count_the_tasks_each_job_computed():
    def on(job, start):
        return {**_t(start, 1, 1), "slurm_job_id": job}
    t = stage_timings({"generate": [("Completed", on("11", 0)), ("Completed", on("12", 0))],
                       "train": [("Completed", on("12", 2)), ("Cached", on("9", 0)),
                                 ("Completed", _t(3, 1, 1))]},
                      flow_started=0, flow_ended=5, workers=2)
    assert t["slurm_jobs"] == {"11": 1, "12": 2}       # a cached task's job is an earlier run's
    assert "Slurm jobs that computed tasks: 2 (job 11: 1, job 12: 2)." in timings_markdown(t)
    assert stage_timings({"train": [("Completed", _t(0, 1, 1))]}, flow_started=0, flow_ended=1,
                         workers=1)["slurm_jobs"] == {}
