"""The README's examples work as printed: its YAML files pass and its pytest example passes."""

import re
from pathlib import Path

from vswitch.cli import main

README = (Path(__file__).parent.parent / "README.md").read_text()


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_every_readme_topology_runs_with_its_expectations_passing(tmp_path, capsys):
    yaml_blocks = blocks("yaml")
    assert len(yaml_blocks) >= 2
    for index, text in enumerate(yaml_blocks):
        path = tmp_path / f"readme{index}.yaml"
        path.write_text(text)
        assert main(["run", str(path), "--out", str(tmp_path / f"out{index}"), "--quiet"]) == 0, capsys.readouterr()


def test_readme_python_example_passes():
    (code,) = blocks("python")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    namespace["test_vepa_siblings_need_hairpin"]()


def test_readme_test_command_is_the_one_ci_runs():
    command = re.search(r"pip install '\.\[test\]' && (pytest)\b", README).group(0)
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert command.replace("pytest", "pytest -q -p no:cacheprovider") in ci.replace("pip install -q", "pip install")


def test_ci_sets_ci_and_runs_both_test_runs_in_random_order_in_parallel():
    """By hand too, ``bash .ci/run`` checks the compiled build (tests/test_build.py needs CI set) and shuffles."""
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    runs = [line for line in ci.splitlines() if re.search(r"\bpytest\b", line) and not line.startswith("#")]
    assert len(runs) == 2 and all(line.endswith('"${shuffled[@]}"') for line in runs), runs
    assert ci.index("export CI=true\n") < ci.index(runs[0])
    [shuffled] = re.findall(r"^shuffled=\((.*)\)$", ci, re.M)
    assert shuffled.split()[:3] == ["-p", "randomly", '--randomly-seed="$seed"'] and "-n auto" in shuffled
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert 'addopts = "-p no:randomly -p vswitch.testing.plugin"' in pyproject  # plain `pytest`: file order
    assert re.search(r'^test = \["pytest>=7", "pytest-randomly>=[\d.]+", "pytest-xdist>=[\d.]+"\]$', pyproject, re.M)


def test_readme_first_command_names_a_bundled_topology():
    first = re.search(r"pip install \. && vswitch run (\S+)", README).group(1)
    assert (Path(__file__).parent.parent / first).is_file()
