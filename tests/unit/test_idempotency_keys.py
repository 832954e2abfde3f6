from qgjob.cli.idempotency import github_run_key, job_keys

GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "981", "GITHUB_RUN_ATTEMPT": "1",
          "GITHUB_REPOSITORY": "acme/app", "GITHUB_JOB": "e2e"}


def test_no_key_outside_ci_unless_given() -> None:
    assert job_keys(None, "v1", "emulator", ["a.js", "b.js"], environ={}) == [None, None]
    keys = job_keys("deploy-7", "v1", "emulator", ["a.js", "b.js"], environ={})
    assert len(set(keys)) == 2 and all(k and len(k) <= 200 for k in keys)


def test_github_runs_key_each_test_of_each_attempt() -> None:
    first = job_keys(None, "v1", "emulator", ["a.js"], environ=GITHUB)
    again = job_keys(None, "v1", "emulator", ["a.js"], environ=GITHUB)
    rerun = job_keys(None, "v1", "emulator", ["a.js"],
                     environ={**GITHUB, "GITHUB_RUN_ATTEMPT": "2"})
    other_target = job_keys(None, "v1", "device", ["a.js"], environ=GITHUB)
    assert first == again  # a retried step finds its jobs
    assert first != rerun  # a re-run of the workflow tests again
    assert first != other_target
    assert github_run_key({"GITHUB_ACTIONS": "false"}) is None


def test_a_submissions_keys_share_a_prefix_and_differ_in_the_rest() -> None:
    keys = job_keys("deploy-7", "v1", "emulator", [f"t{n}.js" for n in range(1000)], environ={})
    other = job_keys("deploy-8", "v1", "emulator", ["t0.js"], environ={})
    assert len(set(keys)) == 1000 and all(k is not None and len(k) <= 200 for k in keys)
    assert len({k[:20] for k in keys if k}) == 1  # one place in the server's index
    assert other[0] is not None and other[0][:20] != keys[0][:20]


def test_github_keys_tell_steps_that_ask_otherwise_apart_and_a_users_key_does_not() -> None:
    """Two steps of one job submitting the same test at other priorities are two submissions
    (the server would refuse the second's keys as reused); a key the user gives names one
    submission, so asking otherwise under it is the server's 409 to say."""
    smoke = job_keys(None, "v1", "emulator", ["a.js"], environ=GITHUB, asked=(5, None))
    suite = job_keys(None, "v1", "emulator", ["a.js"], environ=GITHUB, asked=(3, None))
    retried = job_keys(None, "v1", "emulator", ["a.js"], environ=GITHUB, asked=(5, None))
    more_tries = job_keys(None, "v1", "emulator", ["a.js"], environ=GITHUB, asked=(5, 4))
    assert smoke == retried and len({smoke[0], suite[0], more_tries[0]}) == 3
    given = [job_keys("deploy-7", "v1", "emulator", ["a.js"], environ=GITHUB, asked=asked)
             for asked in ((5, None), (3, 2))]
    assert given[0] == given[1]
