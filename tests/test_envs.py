"""Pinned software environments (issue 7): every rule that runs code names an envs/*.yaml, every
pin in those files is exact, the pip pins are the versions this test venv runs, and each rule's
script imports nothing its environment lacks."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from conftest import REPO, tone, write_audio
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ENVS = REPO / "envs"
GENREFLOW = REPO / "workflow" / "genreflow"
# conda: "==" is exact; "=" is a prefix match ("pip=25.3" also takes 25.3.1), so it only
# counts with a build string or a full major.minor.patch version.
CONDA_EXACT = re.compile(
    r"^(?P<name>[A-Za-z0-9_.-]+)(?:==(?P<v1>[0-9][0-9A-Za-z._+!]*)|=(?P<v2>[0-9][0-9A-Za-z._+!]*)(?P<build>=[A-Za-z0-9_.]+)?)$"
)
PIP_EXACT = re.compile(
    r"^(?P<name>[A-Za-z0-9_.-]+)(?:\[[A-Za-z0-9_,.-]+\])?==(?P<version>[0-9][0-9A-Za-z._+!]*)$"
)

# Lists the rules of a real parse: a demo config (so the featurisation batches exist) plus a
# prediction folder (so the predict batches exist). Run in a subprocess: the Snakemake API
# changes directory and sys.path.
INTROSPECT = r"""
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, Quietness, ResourceSettings

repo, workdir, predict_dir, backend = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
config = {"predict": {"audio_dir": predict_dir, "name": "envcheck"}, "train": {"backend": backend}}
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(config=config),
        snakefile=repo / "Snakefile",
        workdir=workdir,
    )._workflow
    rules = [
        {
            "name": r.name,
            "runs_code": not r.norun,
            "conda": None if r.conda_env is None else str(Path(r.basedir, str(r.conda_env)).resolve()),
            "script": None if r.script is None else str(Path(r.basedir, str(r.script)).resolve()),
        }
        for r in workflow.rules
    ]
print("RULES=" + json.dumps(rules))
"""


# Keras backends: genreflow.runtime imports only the one a run chooses, so an environment
# provides one of them (checked below), not all.
KERAS_BACKENDS = {"tensorflow", "jax", "torch"}


def introspect(root: Path, backend: str) -> list[dict]:
    write_audio(root / "to_classify" / "clip.wav", tone(1.0))
    env = {
        k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"
    }  # "auto" means TensorFlow here
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            INTROSPECT,
            str(REPO),
            str(root / "work"),
            str(root / "to_classify"),
            backend,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RULES=")][-1]
    return json.loads(line.removeprefix("RULES="))


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> list[dict]:
    return introspect(tmp_path_factory.mktemp("envs"), "auto")


@pytest.fixture(scope="module")
def jax_rules(tmp_path_factory) -> list[dict]:
    """The rules of a run with train.backend: jax, whose Keras rules use envs/train-jax.yaml."""
    return introspect(tmp_path_factory.mktemp("envs_jax"), "jax")


def env_files() -> list[Path]:
    return sorted(ENVS.glob("*.yaml"))


def read_env(path: Path) -> tuple[list[str], list[str]]:
    """(conda specs, pip specs) of an environment file."""
    env = yaml.safe_load(path.read_text())
    conda, pip = [], []
    for dep in env.get("dependencies", []):
        if isinstance(dep, dict):
            pip.extend(dep.get("pip", []))
        else:
            conda.append(str(dep))
    return conda, pip


def pip_pins(specs: list[str]) -> dict[str, str]:
    return {
        canonicalize_name(PIP_EXACT.match(s)["name"]): PIP_EXACT.match(s)["version"]
        for s in specs
        if PIP_EXACT.match(s)
    }


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_the_introspection_sees_the_generated_rules(rules):
    """The checks below are only as good as the rule list: batch rules must be in it."""
    names = {r["name"] for r in rules}
    assert {"demo_audio", "qc", "split", "train", "evaluate", "summarize", "predict_csv"} <= names
    assert any(n.startswith("spectrograms_") for n in names)
    assert any(n.startswith("predict_spectrograms_") for n in names)
    assert any(n.startswith("predict_classify_") for n in names)


def test_every_rule_that_runs_code_has_a_conda_env_in_envs(rules):
    missing = [r["name"] for r in rules if r["runs_code"] and not r["conda"]]
    assert not missing, f"rules without conda: {missing}"
    for r in rules:
        if r["conda"]:
            env = Path(r["conda"])
            assert env.is_file(), f"rule {r['name']}: {env} does not exist"
            assert env.parent == ENVS.resolve(), f"rule {r['name']}: {env} is not in envs/"
    # and only target rules (no code) go without one
    assert {r["name"] for r in rules if not r["runs_code"]} <= {"all", "predict", "download"}


def test_every_env_file_is_used(rules, jax_rules):
    used = {Path(r["conda"]) for r in rules + jax_rules if r["conda"]}
    assert set(p.resolve() for p in env_files()) <= used


def test_the_keras_rules_use_the_env_of_their_backend(rules, jax_rules):
    for found, env in ((rules, "train.yaml"), (jax_rules, "train-jax.yaml")):
        assert {Path(r["conda"]).name for r in found if r["name"] in ("train", "evaluate")} == {env}


@pytest.mark.parametrize("env", env_files(), ids=lambda p: p.name)
def test_every_pin_is_exact(env):
    conda, pip = read_env(env)
    assert conda and pip, f"{env.name}: expected conda and pip dependencies"
    for spec in conda:
        m = CONDA_EXACT.match(spec.replace(" ", ""))
        assert m, (
            f"{env.name}: conda dependency '{spec}' is not pinned exactly (write name==version)"
        )
        if m["v2"] and not m["build"]:
            assert len(m["v2"].split(".")) >= 3, (
                f"{env.name}: '{spec}' is a prefix match in conda (also takes {m['v2']}.1); write {m['name']}=={m['v2']}"
            )
    for spec in pip:
        assert PIP_EXACT.match(spec), f"{env.name}: pip dependency '{spec}' is not pinned with =="
    assert "defaults" not in yaml.safe_load(env.read_text()).get("channels", [])


@pytest.mark.parametrize("env", env_files(), ids=lambda p: p.name)
def test_pip_pins_are_what_the_test_venv_runs(env):
    _, pip = read_env(env)
    wrong = {
        name: (pinned, installed(name))
        for name, pinned in pip_pins(pip).items()
        if installed(name) != pinned
    }
    assert not wrong, f"{env.name}: pinned vs installed here: {wrong}"


@pytest.mark.parametrize("env", env_files(), ids=lambda p: p.name)
def test_conda_python_and_pip_match_the_test_venv(env):
    conda, _ = read_env(env)
    pins = {
        m["name"]: m["v1"] or m["v2"]
        for m in (CONDA_EXACT.match(s.replace(" ", "")) for s in conda)
        if m
    }
    if "python" in pins:
        assert pins["python"] == ".".join(map(str, sys.version_info[:3])), (
            f"{env.name}: python {pins['python']}"
        )
    if "pip" in pins:
        assert pins["pip"] == installed("pip"), (
            f"{env.name}: pip {pins['pip']} vs {installed('pip')}"
        )


def requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = PIP_EXACT.match(line)
            assert m, f"requirements.txt: '{line}' is not pinned with =="
            pins[canonicalize_name(m["name"])] = m["version"]
    return pins


def test_requirements_txt_is_installed_and_agrees_with_every_env():
    reqs = requirements()
    wrong = {
        name: (pinned, installed(name))
        for name, pinned in reqs.items()
        if installed(name) != pinned
    }
    assert not wrong, f"requirements.txt vs installed here: {wrong}"
    for env in env_files():
        for name, version in pip_pins(read_env(env)[1]).items():
            assert reqs.get(name) == version, (
                f"{env.name}: {name}=={version}, requirements.txt: {reqs.get(name)}"
            )


def dev_requirements() -> dict[str, str]:
    """requirements-dev.txt's own pins (the test tools), without the -r line."""
    pins = {}
    for line in (REPO / "requirements-dev.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            m = PIP_EXACT.match(line)
            assert m, f"requirements-dev.txt: '{line}' is not pinned with =="
            pins[canonicalize_name(m["name"])] = m["version"]
    return pins


def test_requirements_dev_txt_is_installed():
    wrong = {
        name: (pinned, installed(name))
        for name, pinned in dev_requirements().items()
        if installed(name) != pinned
    }
    assert not wrong, f"requirements-dev.txt vs installed here: {wrong}"


# pip install --no-deps NAME==VERSION: packages whose metadata pins what the environment
# replaces (musicnn 0.1.0: numpy<1.17), installed by tools/setup.sh and, with --sdm conda, by the
# post-deploy script beside an env file
NO_DEPS = re.compile(r"pip install (?:--quiet )?--no-deps ([A-Za-z0-9_.-]+==[0-9][0-9A-Za-z._+!]*)")


def no_deps_pins(path: Path) -> dict[str, str]:
    return {
        canonicalize_name(spec.split("==")[0]): spec.split("==")[1]
        for spec in NO_DEPS.findall(path.read_text())
    }


def test_no_deps_packages_are_installed_alike_by_setup_and_post_deploy_scripts():
    setup = no_deps_pins(REPO / "tools" / "setup.sh")
    assert setup, "tools/setup.sh installs no --no-deps package (musicnn expected)"
    wrong = {
        name: (pinned, installed(name))
        for name, pinned in setup.items()
        if installed(name) != pinned
    }
    assert not wrong, f"tools/setup.sh vs installed here: {wrong}"
    scripts = sorted(ENVS.glob("*.post-deploy.sh"))
    assert scripts, "no envs/*.post-deploy.sh: --sdm conda would lack the --no-deps packages"
    for script in scripts:
        env = script.with_name(script.name.removesuffix(".post-deploy.sh") + ".yaml")
        assert env.is_file(), f"{script.name}: Snakemake runs it only beside {env.name}"
        pins = no_deps_pins(script)
        assert pins and pins.items() <= setup.items(), (
            f"{script.name}: {pins} vs tools/setup.sh {setup}"
        )
        assert script.read_text().startswith("#!"), (
            f"{script.name}: Snakemake runs it with its shebang"
        )
    post_deployed = {name for script in scripts for name in no_deps_pins(script)}
    assert set(setup) <= post_deployed, (
        f"not installed by any envs/*.post-deploy.sh: {set(setup) - post_deployed}"
    )


# --- each rule's script can import its modules inside its own environment -------------------


def module_file(name: str) -> Path | None:
    if name == "genreflow":
        return GENREFLOW / "__init__.py"
    if name.startswith("genreflow."):
        path = GENREFLOW / (name.removeprefix("genreflow.").replace(".", "/") + ".py")
        return path if path.exists() else None
    return None


def imports_of(path: Path, package: str | None) -> set[str]:
    """Every module a file imports, at any depth (lazy imports in functions run too, when called)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = package + ("." + base if base else "")
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names if module_file(f"{base}.{a.name}"))
    return names


@cache
def third_party_imports(script: str) -> frozenset[str]:
    """Top-level third-party modules reachable from a script through the genreflow package."""
    seen, todo, found = set(), [(Path(script), None)], set()
    while todo:
        path, package = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imports_of(path, package):
            local = module_file(name)
            if local:
                todo.append((local, "genreflow"))
            elif not name.startswith("genreflow"):
                found.add(name.split(".")[0])
    return frozenset(found - set(sys.stdlib_module_names) - {"__future__", "snakemake"})


def env_closure(env: Path) -> set[str]:
    """Distributions an env installs: its pip pins and, by this venv's metadata, their dependencies."""
    conda, pip = read_env(env)
    todo = list(pip_pins(pip)) + [
        canonicalize_name(CONDA_EXACT.match(s.replace(" ", ""))["name"]) for s in conda
    ]
    marker_env = default_environment()
    closure = set()
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        closure.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in map(Requirement, requires):
            if req.marker is None or req.marker.evaluate({**marker_env, "extra": ""}):
                todo.append(canonicalize_name(req.name))
    return closure


def test_rule_scripts_import_only_what_their_env_provides(rules, jax_rules):
    providers = {
        module: {canonicalize_name(d) for d in dists}
        for module, dists in metadata.packages_distributions().items()
    }
    problems = []
    for rule in rules + jax_rules:
        if not (rule["script"] and rule["conda"]):
            continue
        closure = env_closure(Path(rule["conda"]))
        imported = third_party_imports(rule["script"])
        if imported & KERAS_BACKENDS and not closure & KERAS_BACKENDS:
            problems.append(
                f"{rule['name']}: {Path(rule['conda']).name} provides no Keras backend ({', '.join(sorted(KERAS_BACKENDS))})"
            )
        for module in sorted(imported - KERAS_BACKENDS):
            dists = providers.get(module)
            if dists is None:
                problems.append(f"{rule['name']}: imports '{module}', which is not installed here")
            elif not dists & closure:
                problems.append(
                    f"{rule['name']}: imports '{module}' ({', '.join(sorted(dists))}), missing from {Path(rule['conda']).name}"
                )
    assert not problems, "\n".join(sorted(set(problems)))
