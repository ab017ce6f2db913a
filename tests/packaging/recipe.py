"""An image recipe (a Dockerfile) performed without a container engine, for the image test.

`build()` runs the stages before the last on this machine as `docker build` would:

- the context as `docker build` sends it: `.dockerignore` applied with Docker's rules
  (`DockerIgnore`);
- ARG (build arguments override defaults, `$VAR`/`${VAR}` expanded as Docker expands them),
  ENV, WORKDIR and COPY into a scratch root that stands for the container's `/`;
- each RUN as `sh -c` in its WORKDIR with the stage's ARG and ENV as its environment, and
  nothing of the caller's but how it reaches the network (HOME is the scratch root's
  `/root`); a `--mount=type=cache` is the caller's directory for that target, so a warm
  cache stays warm;
- the base images stood in for: what a base provides (`python3.11`) by this machine's
  program of that name, its directory at the head of PATH; what `COPY --from` takes from a
  tool image (uv) by a link to this machine's, in a directory before it.

A container path a RUN writes to must therefore be relative to WORKDIR or come from a build
argument the caller points at a directory of its own (the install prefix, `APP`). The last
stage is not built but read: what it copies from a built stage must be that prefix,
unchanged, from a stage on the same base image (the environment links to its Python); its
RUN only prepares the base image (the caller runs the processes as its USER instead). It
gives the `Image`: the environment, user and entrypoint a container starts with.

Anything else (ADD, SHELL, USER while building, a WORKDIR in the last stage, an unknown
flag) fails loudly: a recipe this module cannot perform faithfully must not pass for one
it performed.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

# The environment of the Debian-based python images before any ENV of the recipe's.
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_NOT_PERFORMED = {"LABEL", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK"}
_COPY_FLAGS = {"from", "link"}  # not chown or chmod: ownership is not performed


class RecipeError(AssertionError):
    """The recipe asks for something this module cannot perform faithfully."""


def expand(text: str, variables: Mapping[str, str]) -> str:
    """`$VAR` and `${VAR}` as Docker expands them (unset: empty); other forms refused."""
    expanded = _VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)
    if "${" in expanded:
        raise RecipeError(f"unsupported variable form in {text!r}")
    return expanded


class DockerIgnore:
    """`.dockerignore` as Docker reads it (moby/patternmatcher, `MatchesOrParentMatches`):
    `*` and `?` stay within a path segment, `**` spans segments, a pattern matching a
    directory matches everything under it, `!` re-includes, the last matching pattern wins;
    patterns are cleaned and a leading `/` dropped."""

    def __init__(self, lines: list[str]) -> None:
        self.patterns: list[tuple[bool, str, re.Pattern[str]]] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = posixpath.normpath(line[1:] if include else line).lstrip("/")
            self.patterns.append((include, pattern, re.compile(self._regex(pattern))))

    @classmethod
    def for_build(cls, dockerfile: Path, context: Path) -> DockerIgnore:
        """BuildKit's choice: `<Dockerfile>.dockerignore` beside it, else the context's."""
        for path in (
            dockerfile.with_name(f"{dockerfile.name}.dockerignore"),
            context / ".dockerignore",
        ):
            if path.exists():
                return cls(path.read_text().splitlines())
        return cls([])

    @staticmethod
    def _regex(pattern: str) -> str:
        out, i = "^", 0
        while i < len(pattern):
            ch = pattern[i]
            if pattern.startswith("**", i):
                i += 2 if pattern.startswith("**/", i) else 1
                out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            elif ch == "*":
                out += "[^/]*"
            elif ch == "?":
                out += "[^/]"
            elif ch == "\\" and i + 1 < len(pattern):
                i += 1
                out += re.escape(pattern[i])
            elif ch in ".+()|{}$^":
                out += "\\" + ch
            else:
                out += ch
            i += 1
        return out + "$"

    def excluded(self, path: str) -> bool:
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for include, _, regex in self.patterns:
            if include != excluded:
                continue
            if any(regex.match(candidate) for candidate in candidates):
                excluded = not include
        return excluded

    def _may_include_under(self, directory: str) -> bool:
        return any(
            include and (pattern.startswith(f"{directory}/") or pattern[0] in "*?[")
            for include, pattern, _ in self.patterns
        )

    def files(self, context: Path) -> Iterator[str]:
        """The context's files (and symbolic links) that are sent, relative to it."""
        for top, dirs, names in os.walk(context):
            here = Path(top).relative_to(context).as_posix()
            prefix = "" if here == "." else f"{here}/"
            kept = []
            for name in sorted(dirs):
                if (Path(top) / name).is_symlink():
                    names.append(name)
                elif not self.excluded(prefix + name) or self._may_include_under(prefix + name):
                    kept.append(name)
            dirs[:] = kept
            for name in sorted(names):
                if not self.excluded(prefix + name):
                    yield prefix + name


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    flags: dict[str, str]
    value: str
    line: int

    def words(self, variables: Mapping[str, str]) -> list[str]:
        """The arguments, from the JSON form or split as a shell would, each expanded."""
        if self.value.startswith("["):
            return [expand(word, variables) for word in json.loads(self.value)]
        return [expand(word, variables) for word in shlex.split(self.value)]

    def fail(self, why: str) -> RecipeError:
        return RecipeError(f"line {self.line}: {self.keyword} {self.value!r}: {why}")


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Recipe:
    global_args: dict[str, str]
    stages: list[Stage]

    def user(self, args: Mapping[str, str]) -> str | None:
        """The user the image runs as (its last stage's USER), before anything is built."""
        state = _State(dict(BASE_ENV), dict(BASE_ENV))
        user = None
        for step in self.stages[-1].instructions:
            if step.keyword == "ARG":
                state.arg(step.value, args, self.global_args)
            elif step.keyword == "USER":
                user = expand(step.value, state.variables)
        return user

    @classmethod
    def read(cls, dockerfile: Path) -> Recipe:
        parser = DockerfileParser(str(dockerfile), env_replace=False)
        global_args: dict[str, str] = {}
        stages: list[Stage] = []
        for item in parser.structure:
            keyword = item["instruction"].upper()
            if keyword == "COMMENT":
                continue
            value = item["value"].strip()
            flags: dict[str, str] = {}
            while value.startswith("--"):
                word, _, value = value.partition(" ")
                key, _, flag = word[2:].partition("=")
                flags[key] = flag
                value = value.lstrip()
            if keyword == "FROM":
                words = value.split()
                image = expand(words[0], global_args)
                stages.append(Stage(image, words[2] if len(words) == 3 else None))
            elif stages:
                stages[-1].instructions.append(
                    Instruction(keyword, flags, value, item["startline"] + 1)
                )
            elif keyword == "ARG":
                name, _, default = value.partition("=")
                global_args[name] = expand(default, global_args)
            else:
                raise RecipeError(f"line {item['startline'] + 1}: {keyword} before FROM")
        return cls(global_args, stages)


@dataclass(frozen=True, slots=True)
class Image:
    """How a container of the image starts."""

    env: dict[str, str]
    user: str | None
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]

    def command(self, *args: str) -> list[str]:
        return [*self.entrypoint, *(args or self.cmd)]


@dataclass
class _State:
    """A stage under way: its variables (ARG and ENV), environment (ENV) and WORKDIR."""

    variables: dict[str, str]
    env: dict[str, str]
    workdir: str = "/"

    def arg(self, value: str, args: Mapping[str, str], global_args: Mapping[str, str]) -> None:
        name, has_default, default = value.partition("=")
        if name in args:
            self.variables[name] = args[name]
        elif has_default:
            self.variables[name] = expand(default, self.variables)
        else:
            self.variables[name] = global_args.get(name, "")

    def set_env(self, instruction: Instruction) -> None:
        words = shlex.split(instruction.value)
        if words and "=" not in words[0]:
            words = [f"{words[0]}={' '.join(words[1:])}"]
        for word in words:
            key, _, value = word.partition("=")
            self.env[key] = self.variables[key] = expand(value, self.variables)


class _Builder:
    def __init__(
        self,
        recipe: Recipe,
        *,
        context: Path,
        ignore: DockerIgnore,
        args: Mapping[str, str],
        root: Path,
        base: Mapping[str, Path],
        tool_stages: Mapping[str, Mapping[str, Path]],
        caches: Mapping[str, Path],
        prefix: str,
        network: Mapping[str, str],
    ) -> None:
        self.recipe = recipe
        self.prefix = prefix
        self.network = network
        self.context = context
        self.ignore = ignore
        self.args = args
        self.root = root
        self.tool_stages = tool_stages
        self.caches = caches
        self.tools = root / ".recipe-tools"
        self.tools.mkdir(parents=True, exist_ok=True)
        # The base image's own programs are found where they are (a link would become the
        # home of a virtual environment made with them).
        for name, program in base.items():
            if program.name != name:
                raise RecipeError(f"the base's {name} stood in for by {program}: not that name")
        self.base_path = [str(program.parent) for program in base.values()]
        self.built: dict[str, str] = {}  # stage name: its base image

    def inside(self, workdir: str, path: str) -> Path:
        """A container path, in the scratch root."""
        return self.root / posixpath.normpath(posixpath.join(workdir, path)).lstrip("/")

    def build(self, stage: Stage) -> None:
        state = _State(dict(BASE_ENV), dict(BASE_ENV))
        for step in stage.instructions:
            if step.keyword == "ARG":
                state.arg(step.value, self.args, self.recipe.global_args)
            elif step.keyword == "ENV":
                state.set_env(step)
            elif step.keyword == "WORKDIR":
                state.workdir = posixpath.join(state.workdir, expand(step.value, state.variables))
                self.inside(state.workdir, ".").mkdir(parents=True, exist_ok=True)
            elif step.keyword == "COPY":
                self.copy(step, state)
            elif step.keyword == "RUN":
                self.run(step, state)
            elif step.keyword not in _NOT_PERFORMED:
                raise step.fail("not performed outside Docker")
        if stage.name:
            self.built[stage.name] = stage.image

    def copy(self, step: Instruction, state: _State) -> None:
        if set(step.flags) - _COPY_FLAGS:
            raise step.fail("unknown flag")
        *sources, dest = step.words(state.variables)
        source_stage = step.flags.get("from")
        if source_stage is not None:
            files = self.tool_stages.get(source_stage)
            if files is None:
                raise step.fail("copies from a stage that is not a tool image")
            directory = dest.rstrip("/") if dest.endswith("/") else posixpath.dirname(dest)
            if directory not in BASE_ENV["PATH"].split(":"):
                raise step.fail("a tool must land in a directory on PATH")
            for source in sources:
                name = posixpath.basename(source if dest.endswith("/") else dest)
                (self.tools / name).symlink_to(files[source])
            return
        sent = list(self.ignore.files(self.context))
        target = self.inside(state.workdir, dest)
        for source in map(posixpath.normpath, sources):
            chosen = [f for f in sent if source == "." or f == source or f.startswith(f"{source}/")]
            if not chosen:
                raise step.fail(f"{source} is not in the build context")
            for rel in chosen:
                if rel == source:  # a file: into a directory, or as the destination
                    into_directory = dest.endswith("/") or target.is_dir() or len(sources) > 1
                    out = target / posixpath.basename(rel) if into_directory else target
                else:
                    out = target / (rel if source == "." else posixpath.relpath(rel, source))
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.context / rel, out, follow_symlinks=False)

    def run(self, step: Instruction, state: _State) -> None:
        for key, value in step.flags.items():
            if key != "mount":
                raise step.fail("unknown flag")
            mount = dict(part.partition("=")[::2] for part in value.split(","))
            if mount.get("type") != "cache" or mount.get("target") not in self.caches:
                raise step.fail("only cache mounts the caller provides are performed")
            link = self.inside("/", mount["target"])
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(self.caches[mount["target"]])
        env = {
            **self.network,
            **state.variables,
            "HOME": str(self.inside("/", "/root")),
            "PATH": ":".join([str(self.tools), *self.base_path, state.variables["PATH"]]),
        }
        argv = (
            json.loads(step.value) if step.value.startswith("[") else ["/bin/sh", "-c", step.value]
        )
        done = subprocess.run(
            argv,
            cwd=self.inside(state.workdir, "."),
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            raise step.fail(
                f"exited with {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )

    def image(self, stage: Stage) -> Image:
        state = _State(dict(BASE_ENV), dict(BASE_ENV))
        user: str | None = None
        entrypoint: tuple[str, ...] = ()
        cmd: tuple[str, ...] = ()
        for step in stage.instructions:
            if step.keyword == "ARG":
                state.arg(step.value, self.args, self.recipe.global_args)
            elif step.keyword == "ENV":
                state.set_env(step)
            elif step.keyword == "RUN":
                continue  # prepares the base image: the caller runs as USER instead
            elif step.keyword == "COPY":
                *sources, dest = step.words(state.variables)
                built = self.built.get(step.flags.get("from", ""))
                if built is None or set(step.flags) != {"from"}:
                    raise step.fail("the last stage copies only from a built stage")
                if built != stage.image:
                    raise step.fail(f"built on {built}, run on {stage.image}")
                if sources != [dest] or dest != self.args[self.prefix]:
                    raise step.fail(f"copies something else than ${self.prefix}, in place")
            elif step.keyword == "USER":
                user = expand(step.value, state.variables)
            elif step.keyword == "ENTRYPOINT":
                entrypoint = tuple(json.loads(step.value))
            elif step.keyword == "CMD":
                cmd = tuple(json.loads(step.value))
            elif step.keyword not in _NOT_PERFORMED:
                raise step.fail("not read outside Docker")
        return Image(state.env, user, entrypoint, cmd)


def build(
    dockerfile: Path,
    *,
    context: Path,
    prefix: str,
    args: Mapping[str, str],
    root: Path,
    base: Mapping[str, Path],
    tool_stages: Mapping[str, Mapping[str, Path]],
    caches: Mapping[str, Path],
    network: Mapping[str, str],
) -> Image:
    """Perform `dockerfile` with the build arguments `args`, among them `prefix`: the
    argument naming where the image's software is installed, a directory of the caller's.
    The scratch root is `root`. `network` is how this machine reaches the package index
    (proxies, its CA bundle): what Docker gives RUN as predefined build arguments and the
    build host's configuration. Returns how a container of the image starts."""
    recipe = Recipe.read(dockerfile)
    builder = _Builder(
        recipe,
        context=context,
        ignore=DockerIgnore.for_build(dockerfile, context),
        args=args,
        root=root,
        base=base,
        tool_stages=tool_stages,
        caches=caches,
        prefix=prefix,
        network=network,
    )
    if prefix not in args:
        raise RecipeError(f"the install prefix {prefix} must be given")
    *stages, last = recipe.stages
    for stage in stages:
        if stage.instructions:
            builder.build(stage)
        elif stage.name not in tool_stages:
            raise RecipeError(f"stage {stage.name} ({stage.image}) is not a known tool image")
    return builder.image(last)
