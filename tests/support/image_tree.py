"""The pipeline image's file tree, rebuilt from the Dockerfile and .dockerignore (no Docker engine).

Docker's engine does not run here, so this stands in for the file steps of `docker build`:

* the build context is the folder on disk less what `.dockerignore` excludes, with Docker's
  pattern rules: `*` and `?` stay within one path segment, `**` spans any number of them,
  `!` re-includes, the last matching line wins, and a line that matches a folder excludes
  everything below it;
* each COPY / ADD copies its sources from that context to its destination (relative to the
  WORKDIR in force): a folder's contents, not the folder itself; a source that is missing
  from the context (absent, or excluded) fails the build, as in Docker;
* ENV lines give the image's environment.

RUN lines are not replayed (their pip installs and baked weights need the network and the
base image); the caller stands in for them with its own environment.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Image:
    root: Path  # the image's "/"
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)

    def path(self, image_path: str) -> Path:
        """Where a path inside the image lies in the rebuilt tree."""
        return self.root / posixpath.join(self.workdir, image_path).lstrip("/")

    def pythonpath(self) -> list[Path]:
        return [self.path(p) for p in self.env.get("PYTHONPATH", "").split(":") if p]


def instructions(dockerfile_text: str) -> list[tuple[str, list[str]]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile_text.splitlines() if not line.lstrip().startswith("#")]
    result = []
    for line in re.sub(r"\\\s*\n", " ", "\n".join(lines)).splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            rest = rest.strip()
            result.append((keyword.upper(), json.loads(rest) if rest.startswith("[") else shlex.split(rest)))
    return result


def _pattern_regex(pattern: str) -> re.Pattern:
    """Docker's (Go filepath.Match plus `**`) pattern as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out, i = out + "[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignore_rules(dockerignore_text: str) -> list[tuple[bool, re.Pattern]]:
    """(is an exception `!`, pattern) per line of a .dockerignore."""
    rules = []
    for line in dockerignore_text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            pattern = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
            rules.append((negated, _pattern_regex(pattern)))
    return rules


def ignored(relative: str, rules: list[tuple[bool, re.Pattern]]) -> bool:
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]  # the path and its folders
    result = False
    for negated, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            result = not negated
    return result


def context_files(context: Path, rules: list[tuple[bool, re.Pattern]]) -> list[str]:
    """The build context's files, relative to it, as Docker sends them."""
    prune = not any(negated for negated, _ in rules)  # no exception can re-include below an ignored folder
    files = []
    for folder, dirs, names in os.walk(context):
        base = Path(folder).relative_to(context)
        dirs[:] = [d for d in dirs if not (prune and ignored((base / d).as_posix(), rules))]
        files += [(base / n).as_posix() for n in names if not ignored((base / n).as_posix(), rules)]
    return sorted(files)


def _copy(sources: list[str], dest: str, files: list[str], image: Image, context: Path) -> None:
    target_dir = dest.endswith("/") or len(sources) > 1
    for source in sources:
        source = posixpath.normpath(source).lstrip("/")
        regex = _pattern_regex(source)
        copied = 0
        for f in files:
            parts = f.split("/")
            for n in range(len(parts)):
                if source == "." or regex.fullmatch("/".join(parts[: n + 1])):
                    below = "/".join(parts[n + 1 :]) if source != "." else f
                    if below:  # a folder matched: its contents go into dest
                        target = posixpath.join(dest, below)
                    else:  # a file matched
                        target = posixpath.join(dest, parts[-1]) if target_dir else dest
                    out = image.path(target)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(context / f, out)
                    copied += 1
                    break
        if not copied:
            raise FileNotFoundError(f"COPY {source}: not found in the build context (missing or in .dockerignore)")


def build(dockerfile: Path, context: Path, root: Path) -> Image:
    """The image's files (what COPY/ADD put there) under root, and its WORKDIR and ENV."""
    ignore = context / ".dockerignore"
    rules = ignore_rules(ignore.read_text()) if ignore.exists() else []
    files = context_files(context, rules)
    image = Image(root)
    for keyword, args in instructions(dockerfile.read_text()):
        if keyword == "WORKDIR":
            image.workdir = posixpath.join(image.workdir, args[0])
        elif keyword == "ENV":
            pairs = [a.split("=", 1) for a in args] if "=" in args[0] else [[args[0], " ".join(args[1:])]]
            image.env.update(pairs)
        elif keyword in ("COPY", "ADD"):
            flags = [a for a in args if a.startswith("--")]
            if any(f.startswith("--from") for f in flags) or any("://" in a for a in args):
                raise NotImplementedError(
                    f"{keyword} {' '.join(args)}: only copies from the build context are modelled"
                )
            *sources, dest = [a for a in args if not a.startswith("--")]
            _copy(sources, dest, files, image, context)
    return image
