"""Checking a reply template an admin wrote, before it is saved.

The text is parsed, its variables are compared with what the code passes to that template, and
it is rendered with sample values in variants that reach every branch, the full and the minimal
context among them (SAMPLES, in reply_samples.py). A macro file is tried through every mail of
its language. What is wrong is said in Dutch, for the admin; a typo must not stop the bot from
writing mail. A text is tried as a case of its profile would use it: with the profile's own
templates around it and the profile's facts in the samples.

`check_all` (for `dsr-bot templates check`) does the same for every profile's whole set.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.exceptions import SecurityError

from dsr_bot.config import ProfileSettings
from dsr_bot.replies import (
    DEFAULT_PROFILE,
    LANGUAGES,
    TEMPLATES_DIR,
    Rendered,
    TemplateFile,
    builtin_text,
    environment,
    profile_override_dir,
    render_html,
    render_with,
    template_files,
    template_loader,
)
from dsr_bot.reply_samples import SAMPLES as SAMPLES  # re-exported: callers check against it
from dsr_bot.reply_samples import named_samples, with_profile

MAX_TEMPLATE_CHARS = 50_000


def sample_variables(template: str) -> list[str]:
    """The names a template may use, for the help text next to the editor."""
    names = {"language"}
    for variant in SAMPLES.get(template, ()):
        names |= variant.keys()
    return sorted(names)


def preview_sample(template: str, profile: ProfileSettings | None = None) -> dict[str, Any]:
    """The full sample of `template`, with the facts of `profile`: for a preview."""
    sample = SAMPLES[template][0]
    return with_profile(sample, profile) if profile is not None else sample


def check_template(
    file: TemplateFile,
    text: str,
    *,
    override_dir: Path | None,
    templates_dir: Path = TEMPLATES_DIR,
    profile_dir: Path | None = None,
    profile: ProfileSettings | None = None,
) -> str | None:
    """What is wrong with `text` as a replacement for `file`, in Dutch for the admin who wrote
    it; None when it parses and renders with every sample it will meet. `override_dir`: the
    console's replacements of this profile; `profile_dir` and `profile`: its own templates and
    its facts."""
    if len(text) > MAX_TEMPLATE_CHARS:
        return f"De tekst is te lang (meer dan {MAX_TEMPLATE_CHARS} tekens)."
    if not file.is_macros and not text.strip():
        return "De tekst is leeg. Een bericht heeft tekst nodig."
    trial_name = f"{file.path} (nieuwe tekst)"
    loader = jinja2.ChoiceLoader(
        [
            _Candidate(file.path, text, trial_name),
            template_loader(templates_dir, override_dir, profile_dir),
        ]
    )
    env = environment(loader, auto_reload=False)
    try:
        tree = env.parse(text, name=file.path, filename=trial_name)
    except jinja2.TemplateSyntaxError as exc:
        return f"Fout in de opmaak op regel {exc.lineno}: {_sentence(exc.message)}"
    allowed = set(env.globals) | _variables(env, builtin_text(file, templates_dir))
    allowed |= set(sample_variables(file.template))
    unknown = sorted(meta.find_undeclared_variables(tree) - allowed)
    if unknown:
        return _unknown(unknown, file)
    for template, context in _trials(file, templates_dir, profile):
        try:
            render_with(env, template, file.language, context)
        except Exception as exc:
            return _explain(exc, trial_name, file)
    return None


class _Candidate(jinja2.BaseLoader):
    """The text under trial, in place of the file it would replace."""

    def __init__(self, path: str, text: str, filename: str) -> None:
        self._path, self._text, self._filename = path, text, filename

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template != self._path:
            raise jinja2.TemplateNotFound(template)
        return self._text, self._filename, lambda: True


def _variables(env: jinja2.Environment, source: str) -> set[str]:
    return set(meta.find_undeclared_variables(env.parse(source)))


def _trials(
    file: TemplateFile, templates_dir: Path, profile: ProfileSettings | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The renders that would use the file: its own mail, or for a macro file every mail of
    that language (any of them may import it)."""
    if file.is_macros:
        mails = {f.template for f in template_files(templates_dir) if f.language == file.language}
        mails = {m for m in mails if not m.startswith("_")}
    else:
        mails = {file.template}
    for template in sorted(mails):
        for label, context in named_samples(template):
            if profile is not None and label != "minimal":
                context = with_profile(context, profile)
            yield template, context


_UNDEFINED = re.compile(r"^'([^']+)' is undefined$")


def _unknown(names: list[str], file: TemplateFile) -> str:
    known = ", ".join(sample_variables(file.template))
    listed = ", ".join(names)
    word = "deze variabele" if len(names) == 1 else "deze variabelen"
    help_text = f" Dit sjabloon kent: {known}." if SAMPLES.get(file.template) else ""
    return f"De tekst gebruikt {word}, die het sjabloon niet krijgt: {listed}.{help_text}"


def _explain(exc: Exception, trial_name: str, file: TemplateFile) -> str:
    line = _line_of(exc.__traceback__, trial_name)
    where = f" (regel {line})" if line else ""
    if isinstance(exc, jinja2.UndefinedError):
        found = _UNDEFINED.match(exc.message or "")
        if found:
            return _unknown([found[1]], file).removesuffix(".") + where + "."
        return f"De proefweergave mislukte{where}: iets bestaat niet ({exc.message})."
    if isinstance(exc, SecurityError):
        return f"De tekst probeert iets wat niet mag{where}: {_sentence(str(exc))}"
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"De tekst gebruikt een sjabloon dat niet bestaat: {exc.name}."
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"Fout in de opmaak van {exc.name} op regel {exc.lineno}: {_sentence(exc.message)}"
    return f"De proefweergave mislukte{where}: {type(exc).__name__}: {_sentence(str(exc))}"


def _sentence(text: str | None) -> str:
    text = (text or "").strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _line_of(tb: TracebackType | None, filename: str) -> int | None:
    """The line of the text under trial where rendering stopped (Jinja puts template lines in
    the traceback)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# --- the whole set, for `dsr-bot templates check` ------------------------------------------------

# What a finished mail never shows: template syntax, or a placeholder someone forgot to fill in.
_LEFTOVER = re.compile(
    r"\{\{|\}\}|\{%|%\}|\{#|#\}|\[(?:[a-z][a-z ]{0,30}|\.\.\.|…)\]|\b(?:XXX+|TODO|FIXME|TBD)\b"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a template as the bot would send it: `file` is the one to fix."""

    file: str
    line: int | None
    mail: str  # nl/access_reply; empty for a file that belongs to no mail
    what: str
    samples: tuple[str, ...] = ()  # the sample contexts that showed it
    profiles: tuple[str, ...] = ()  # the profiles whose mail shows it (when there are several)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        shown = f" ({', '.join(self.samples)})" if self.samples else ""
        names = f" in profile {', '.join(self.profiles)}" if self.profiles else ""
        if not self.mail:
            return f"{where}{names}: {self.what}"
        return f"{where}: {self.mail}{shown}{names}: {self.what}"


@dataclasses.dataclass(frozen=True, slots=True)
class SetReport:
    problems: list[Problem]
    mails: int
    renders: int
    profiles: tuple[str, ...] = (DEFAULT_PROFILE,)


def is_staff_mail(template: str) -> bool:
    """Mail to staff: Dutch only, and not always about one case (the digest)."""
    return template.startswith("staff_")


def check_all(
    *,
    override_dir: Path | None,
    templates_dir: Path = TEMPLATES_DIR,
    profiles: Mapping[str, ProfileSettings] | None = None,
) -> SetReport:
    """Render every mail in every language with each of its samples (full, minimal and the
    branches between), the way the bot renders it, and say what is wrong: a render that fails,
    text left over from a template or a placeholder, an empty subject, a mail to a data subject
    without its reference in the subject and the body, a mail missing in a language.

    Each profile's set is checked as a case of that profile gets it: the console's
    replacements for it (under `override_dir`, console.template_overrides), then its own
    templates, then the built-in ones, with its facts in the full samples. A file in those
    directories that the bot never reads (a misspelt name) is reported too. `profiles`: the
    deployment's; None: the default profile as built in."""
    named: dict[str, ProfileSettings | None] = {DEFAULT_PROFILE: None}
    if profiles:
        named = dict(profiles)
    problems: list[Problem] = []
    mails = renders = 0
    for name, profile in named.items():
        overrides = profile_override_dir(override_dir, name) if override_dir else None
        found, mails, count = _check_profile(profile, overrides, templates_dir)
        renders += count
        if len(named) > 1:
            found = [dataclasses.replace(p, profiles=(name,)) for p in found]
        problems += found
    return SetReport(
        problems=_merged(problems), mails=mails, renders=renders, profiles=tuple(named)
    )


def _check_profile(
    profile: ProfileSettings | None, override_dir: Path | None, templates_dir: Path
) -> tuple[list[Problem], int, int]:
    """The problems of one profile's set, the number of mails and of renders."""
    problems: list[Problem] = []
    own = profile.templates if profile is not None else None
    if own is not None and not own.is_dir():
        problems.append(Problem(str(own), None, "", "the profile's templates directory is missing"))
        own = None
    layers = [d for d in (override_dir, own) if d is not None and d.is_dir()]
    env = environment(template_loader(templates_dir, override_dir, own), auto_reload=False)
    files = template_files(templates_dir)
    present = {(f.language, f.name) for f in files}
    mails = sorted({f.template for f in files if not f.is_macros})

    def path_of(language: str, name: str) -> str:
        for folder in layers:
            if (folder / language / name).is_file():
                return str(folder / language / name)
        return _shown(templates_dir / language / name, templates_dir)

    for folder in layers:
        problems += _stray_files(folder, templates_dir, whole=folder == own)
        problems += _chat_problems(env, folder, templates_dir)
    renders = 0
    for template, language in ((t, lang) for t in mails for lang in LANGUAGES):
        subject, body = f"{template}.subject.j2", f"{template}.body.j2"
        mail = f"{language}/{template}"
        missing = [name for name in (subject, body) if (language, name) not in present]
        if len(missing) == 2:
            if not is_staff_mail(template):  # staff read Dutch
                languages = ", ".join(LANGUAGES)
                what = f"missing: a mail to a data subject is needed in {languages}"
                problems.append(Problem(path_of(language, body), None, mail, what))
            continue
        for name in missing:
            problems.append(Problem(path_of(language, name), None, mail, "missing"))
        if not SAMPLES.get(template):
            what = "no sample values to render it with (reply_samples.SAMPLES)"
            problems.append(Problem(path_of(language, body), None, mail, what))
            continue
        for label, context in _contexts(template, profile):
            renders += 1
            try:
                out = render_with(env, template, language, context)
            except Exception as exc:
                found = [_render_problem(exc, mail, path_of(language, body))]
            else:
                files_of = (path_of(language, subject), path_of(language, body))
                found = _content_problems(template, context, out, mail, *files_of)
                try:  # the HTML part, made from the same text when the mail goes out
                    render_html(out.body, language, title=out.subject, templates_dir=templates_dir)
                except Exception as exc:
                    found.append(_render_problem(exc, mail, "html/layout.html.j2"))
            problems += [dataclasses.replace(p, samples=(label,)) for p in found]
    return problems, len(mails), renders


def _stray_files(folder: Path, templates_dir: Path, *, whole: bool) -> list[Problem]:
    """Files in a profile's directory (`whole`) or in the language folders of the console's
    replacements that no built-in template file matches: the bot never reads them. The HTML
    layout is one for every profile."""
    known = {
        p.relative_to(templates_dir)
        for language in LANGUAGES
        for p in (templates_dir / language).rglob("*")
        if p.is_file()
    }
    places = [folder] if whole else [folder / language for language in LANGUAGES]
    found = []
    for place in places:
        if not place.is_dir():
            continue
        for path in sorted(place.rglob("*")):
            if not path.is_file() or path.name.startswith("."):  # a save in progress
                continue
            if path.relative_to(folder) not in known:
                what = "no built-in template has this name (templates/<language>/...): never used"
                found.append(Problem(str(path), None, "", what))
    return found


def _chat_problems(env: jinja2.Environment, folder: Path, templates_dir: Path) -> list[Problem]:
    """A profile's chat messages (nl/chat/*.j2), which have no samples: each must parse and use
    only what the built-in message gets."""
    found = []
    for language in LANGUAGES:
        for path in sorted((folder / language / "chat").glob("*.j2")):
            builtin = templates_dir / language / "chat" / path.name
            if not builtin.is_file():
                continue  # reported by _stray_files
            mail = f"{language}/chat/{path.stem}"
            try:
                tree = env.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except jinja2.TemplateSyntaxError as exc:
                found.append(Problem(str(path), exc.lineno, mail, f"syntax: {exc.message}"))
                continue
            allowed = set(env.globals) | _variables(env, builtin.read_text(encoding="utf-8"))
            for name in sorted(meta.find_undeclared_variables(tree) - allowed):
                what = f"undefined variable {name!r} (the chat message does not get it)"
                found.append(Problem(str(path), None, mail, what))
    return found


def _merged(problems: list[Problem]) -> list[Problem]:
    """One line per problem, naming every sample and profile that showed it."""
    seen: dict[Problem, tuple[list[str], list[str]]] = {}
    for problem in problems:
        key = dataclasses.replace(problem, samples=(), profiles=())
        samples, profiles = seen.setdefault(key, ([], []))
        samples += [s for s in problem.samples if s not in samples]
        profiles += [p for p in problem.profiles if p not in profiles]
    return [
        dataclasses.replace(p, samples=tuple(samples), profiles=tuple(profiles))
        for p, (samples, profiles) in seen.items()
    ]


def _contexts(
    template: str, profile: ProfileSettings | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The samples of `template`; the full ones with the profile's facts."""
    for label, context in named_samples(template):
        if profile is not None and label != "minimal":
            context = with_profile(context, profile)
        yield label, context


def _content_problems(
    template: str,
    context: Mapping[str, Any],
    out: Rendered,
    mail: str,
    subject_file: str,
    body_file: str,
) -> list[Problem]:
    found = []
    if not out.subject.strip():
        found.append(Problem(subject_file, None, mail, "the subject is empty"))
    if not out.body.strip():
        found.append(Problem(body_file, None, mail, "the body is empty"))
    for file, text in ((subject_file, out.subject), (body_file, out.body)):
        for match in _LEFTOVER.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Problem(file, None, mail, f"left over in line {line}: {match[0]!r}"))
    reference = context.get("reference")
    if reference and not is_staff_mail(template):
        if reference not in out.subject:
            found.append(Problem(subject_file, None, mail, f"no reference ({reference})"))
        if reference not in out.body:
            found.append(Problem(body_file, None, mail, f"no reference ({reference})"))
    return found


def _render_problem(exc: Exception, mail: str, fallback: str) -> Problem:
    """Where a render failed (the template file Jinja was in, and its line), and why."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return Problem(exc.filename or fallback, exc.lineno, mail, f"syntax: {exc.message}")
    file, line = fallback, None
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            file, line = name, tb.tb_lineno
        tb = tb.tb_next
    if isinstance(exc, jinja2.UndefinedError):
        found = _UNDEFINED.match(exc.message or "")
        what = f"undefined variable {found[1]!r}" if found else f"undefined: {exc.message}"
    elif isinstance(exc, SecurityError):
        what = f"not allowed in the sandbox: {exc}"
    elif isinstance(exc, jinja2.TemplateNotFound):
        what = f"uses a template that does not exist: {exc.name}"
    else:
        what = f"{type(exc).__name__}: {exc}"
    return Problem(_shown(Path(file), TEMPLATES_DIR), line, mail, what)


def _shown(path: Path, templates_dir: Path) -> str:
    """A built-in template as templates/nl/x.body.j2; any other file as it is."""
    try:
        return str(path.relative_to(templates_dir.parent))
    except ValueError:
        return str(path)
