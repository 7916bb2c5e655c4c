"""The refusals of the kit's source, read with ast (nothing imported): each message and hint as the user reads
them, for tools/troubleshooting.py.

A refusal is a call of KitError or of a class derived from it (however indirectly), or the super().__init__ of
such a class that makes its own words. Its message and hint are read as text:

- an f-string's fields are placeholders: `{path}` is `<path>`, `{run.shard}` `<run.shard>`, `{x!r}` `'<x>'`,
  `{len(x)}` `<n>`; a module's constant (its own or imported from the kit) is its value: `{MIN_SOURCES}` is 3;
- the kit's message helpers read as what they print: `kit_command("merge", x)` is `ensemble-kit merge <x>`,
  `label(flag, text)` `<flag> '<text>'`; `str(x)`, `sorted(x)`, `', '.join(x)` are `<x>`;
- `a if c else b` is a choice, `[A | B]` (`[A]` when B says nothing); a local variable is its value (a choice of
  its values when it is given several, a placeholder when it holds no words of its own);
- a function whose message or hint is (nearly) all its parameters, as `number(read, text, refused, hint)` or
  `_refused(path, why)`, refuses with its callers' words: it is listed once per call of it in the kit that gives
  words, with the caller's place and "via" the function. One level of callers only.

A call whose message is only a placeholder (a refusal raised again, `InputError(str(exc), hint=exc.hint)`) is not
listed: its words are listed where they are made.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BASE = "KitError"
HELPER_DEPTH = 1  # a helper that returns words is read as them; one inside it is a placeholder
OWN_WORDS = 12  # a message or hint with fewer letters than this outside its placeholders is its callers' words
PASS_THROUGH = {"str", "sorted", "list", "tuple", "set", "frozenset", "Path", "require_trusted", "shell_join",
                "as_typed", "dumps", "reason_line", "human_bytes", "size_text", "describe_path"}
QUOTED = {"repr", "shown"}
COUNTS = {"len", "sum", "int", "round", "float", "Counter", "max", "min"}
METHODS_OF_TEXT = {"replace", "strip", "rstrip", "lstrip", "lower", "upper", "removeprefix", "removesuffix",
                   "format", "splitlines", "split"}
Func = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Refusal:
    """One refusal as the page lists it."""

    module: str  # kit/media/refs.py
    where: str  # the function (Class.method) that raises it
    line: int
    message: str
    hint: str
    via: str = ""  # the function handed the words, when they are the caller's


@dataclass(frozen=True)
class Kit:
    """The kit's modules, parsed, and the names each imports from the others (`from kit.x import name`)."""

    trees: dict[str, ast.Module]  # kit/x.py -> its tree
    imports: dict[str, dict[str, str]]  # kit/y.py -> {name: kit/x.py it is imported from}

    @classmethod
    def read(cls, root: Path) -> Kit:
        trees = {p.relative_to(root).as_posix(): ast.parse(p.read_text()) for p in sorted((root / "kit").rglob("*.py"))}
        imports = {module: {a.name: source for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                            and node.module and (source := node.module.replace(".", "/") + ".py") in trees
                            for a in node.names if a.asname is None}
                   for module, tree in trees.items()}
        return cls(trees, imports)


@dataclass
class Scope:
    """A function being read: its module, its node, and the arguments a caller gave it (one level of callers)."""

    kit: Kit
    module: str
    func: Func | None
    bound: dict[str, tuple[ast.expr, Scope]] = field(default_factory=dict)
    params_used: set[str] = field(default_factory=set)
    resolving: set[str] = field(default_factory=set)
    depth: int = 0  # how many helper calls deep (HELPER_DEPTH at most)

    @property
    def tree(self) -> ast.Module:
        return self.kit.trees[self.module]

    def params(self) -> list[str]:
        if self.func is None:
            return []
        args = self.func.args
        return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]

    def assigned(self, name: str) -> tuple[list[ast.expr], Scope]:
        """The values `name` is given in the function (an assignment, a tuple's, a walrus), else at the module's
        top level, else at the top of the kit module it is imported from; and the scope they are read in."""
        if self.func is not None and (found := _assignments(self.func, name)):
            return found, self
        if found := _assignments(self.tree, name, top_only=True):
            return found, Scope(self.kit, self.module, None)
        for source, tree in self._imported(name):
            if found := _assignments(tree, name, top_only=True):
                return found, Scope(self.kit, source, None)
        return [], self

    def function(self, name: str) -> tuple[Func, str] | None:
        """The kit's module-level function `name` as this module sees it (its own, or imported from the kit)."""
        for module, tree in ((self.module, self.tree), *self._imported(name)):
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                    return node, module
        return None

    def _imported(self, name: str) -> Iterator[tuple[str, ast.Module]]:
        if (source := self.kit.imports[self.module].get(name)) is not None:
            yield source, self.kit.trees[source]


def _assignments(node: ast.AST, name: str, top_only: bool = False) -> list[ast.expr]:
    found: list[ast.expr] = []
    for sub in (node.body if top_only and isinstance(node, ast.Module) else ast.walk(node)):
        if isinstance(sub, ast.Assign):
            for target in sub.targets:
                found += _unpacked(target, sub.value, name)
        elif isinstance(sub, (ast.AnnAssign, ast.NamedExpr)) and sub.value is not None \
                and isinstance(sub.target, ast.Name) and sub.target.id == name:
            found.append(sub.value)
    return found


def _unpacked(target: ast.expr, value: ast.expr, name: str) -> list[ast.expr]:
    if isinstance(target, ast.Name):
        return [value] if target.id == name else []
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
        return [v for t, e in zip(target.elts, value.elts, strict=True) for v in _unpacked(t, e, name)]
    return []


def has_words(node: ast.expr) -> bool:
    """Whether an expression reads as words of its own: a string with a letter, in the parts `render` reads."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and re.search(r"[A-Za-z]", node.value) is not None
    if isinstance(node, ast.JoinedStr):
        return any(has_words(v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values)
    if isinstance(node, ast.BinOp):
        return has_words(node.left) or has_words(node.right)
    if isinstance(node, ast.IfExp):
        return has_words(node.body) or has_words(node.orelse)
    if isinstance(node, ast.BoolOp):
        return any(has_words(v) for v in node.values)
    return isinstance(node, ast.Call) and _func_name(node) in ("kit_command", "kit_cli")


def own_letters(text: str) -> int:
    """The letters of a rendered text outside its placeholders."""
    return len(re.findall(r"[A-Za-z]", re.sub(r"<[^<>]*>", "", text)))


def placeholder(node: ast.expr) -> str:
    """What a value known only at run time reads as: `<path>`, `<run.shard>`, `<box_id>` of values['box_id']."""
    if isinstance(node, ast.Name):
        return f"<{node.id.lstrip('_')}>"
    if isinstance(node, ast.Attribute):
        if node.attr == "__name__":
            return placeholder(node.value)
        parts = _dotted(node)
        return f"<{'.'.join(parts[-2:] if parts[0] != 'self' or len(parts) > 2 else parts[1:])}>"
    if isinstance(node, ast.Subscript):
        key = node.slice
        return f"<{key.value}>" if isinstance(key, ast.Constant) and isinstance(key.value, str) else \
            placeholder(node.value)
    if isinstance(node, ast.Call):
        return f"<{_func_name(node).lstrip('_') or '…'}>"
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        return "<n>"
    if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
        return placeholder(node.generators[0].iter)
    return "<…>"


def _dotted(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Attribute):
        return [*_dotted(node.value), node.attr]
    if isinstance(node, ast.Call):
        args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        called = _dotted(node.func)
        return [*called[:-1], f"{called[-1]}({', '.join(map(repr, args))})" if args else called[-1]]
    if isinstance(node, ast.Subscript):
        return _dotted(node.value)
    return [node.id.lstrip("_")] if isinstance(node, ast.Name) else ["…"]


def _func_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def choice(*texts: str) -> str:
    """Words said one way or another: `[A | B]`, `[A]` when the other way says nothing."""
    if len(texts) == 1:
        return texts[0]
    texts = tuple(t if re.search(r"[A-Za-z0-9<]", t) else "" for t in texts)  # ": " alone says nothing
    said = list(dict.fromkeys(t.removeprefix("[").removesuffix("]") if re.fullmatch(r"\[[^\[\]]*\]", t) else t
                              for t in texts))
    worded = [t for t in said if t]
    if len(worded) <= 1:
        return f"[{worded[0]}]" if worded and len(said) > 1 else "".join(worded)
    if all(own_letters(t) == 0 for t in worded):
        return worded[0]  # two placeholders: one is as good as the other
    return f"[{' | '.join(worded)}]"


def render(node: ast.expr, scope: Scope) -> str:
    """The words an expression reads as, placeholders for what only the run knows."""
    if isinstance(node, ast.Constant):
        return "" if node.value is None else node.value if isinstance(node.value, str) else repr(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(render(v, scope) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        text = render(node.value, scope)
        return f"'{text}'" if node.conversion == ord("r") and not text.startswith("'") else text
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and (has_words(node.left) or
                                                                         has_words(node.right)):
        return render(node.left, scope) + render(node.right, scope)
    if isinstance(node, ast.IfExp):
        return choice(render(node.body, scope), render(node.orelse, scope))
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):  # `x or 'a list'`: the first that says something
        return choice(*(text for text in (render(v, scope) for v in node.values) if text))
    if isinstance(node, ast.Name):
        return _name(node, scope)
    if isinstance(node, ast.Call):
        return _call(node, scope)
    return placeholder(node)


def _name(node: ast.Name, scope: Scope) -> str:
    """A variable as its value when that holds words (several values: a choice) or is a constant's number."""
    if node.id in scope.bound:
        expr, caller = scope.bound[node.id]
        return render(expr, caller)
    if node.id in scope.params():
        scope.params_used.add(node.id)
        return placeholder(node)
    values, home = scope.assigned(node.id)
    if node.id in scope.resolving or not values or len(values) > 4:
        return placeholder(node)
    if home.func is None and len(values) == 1 and isinstance(values[0], ast.Constant) \
            and isinstance(values[0].value, (int, float, str)) and not isinstance(values[0].value, bool):
        return str(values[0].value)  # a constant: MIN_SOURCES is 3
    home.resolving.add(node.id)
    texts = [render(v, home) for v in values]
    home.resolving.discard(node.id)
    return choice(*texts) if any(own_letters(t) for t in texts) else placeholder(node)


def _call(node: ast.Call, scope: Scope) -> str:
    """A call as its words: the kit's message helpers read as what they print, any other as a placeholder."""
    name, args = _func_name(node), node.args
    first = args[0] if args and not isinstance(args[0], ast.Starred) else None
    if name == "kit_cli":
        return "ensemble-kit"
    if name == "kit_command":
        return " ".join(["ensemble-kit", *(render(a, scope) for a in args)])
    if name == "label" and len(args) == 2:  # a variable's NAME='value', a flag's --flag 'value'
        named = render(args[0], scope)
        return f"{named}{'=' if re.fullmatch(r'[A-Z][A-Z0-9_]*', named) else ' '}'{render(args[1], scope)}'"
    if name == "because" and first is not None:
        return f"[: {render(first, scope)}]"
    key = args[0] if name == "get" and args else args[1] if name == "getattr" and len(args) >= 2 else None
    if isinstance(key, ast.Constant) and isinstance(key.value, str):  # d.get("box_id"), getattr(x, "name")
        return f"<{key.value}>"
    if name in METHODS_OF_TEXT and isinstance(node.func, ast.Attribute):
        return render(node.func.value, scope)
    if first is None:
        return placeholder(node)
    if name in QUOTED:
        return f"'{render(first, scope)}'"
    if name == "len":
        return "<n>"
    if name == "join" or name in PASS_THROUGH or (name in COUNTS and isinstance(first, (ast.Name, ast.Attribute))):
        return render(first, scope) if not isinstance(first, ast.GeneratorExp) else placeholder(first)
    return _helper(node, scope) or placeholder(node)


def _helper(node: ast.Call, scope: Scope) -> str | None:
    """A call of one of the kit's functions that returns words, every way it returns (a choice): what it returns
    with this call's arguments."""
    found = scope.function(node.func.id) if isinstance(node.func, ast.Name) and scope.depth < HELPER_DEPTH else None
    if found is None:
        return None
    func, module = found
    returns = [r.value for r in ast.walk(func) if isinstance(r, ast.Return) and r.value is not None]
    if not returns or len(returns) > 4 or not all(has_words(r) for r in returns):
        return None
    home = Scope(scope.kit, module, None, depth=scope.depth + 1)
    inner = Scope(scope.kit, module, func, bind(node, func, scope, home), depth=scope.depth + 1)
    said = choice(*(render(r, inner) for r in returns))
    return None if re.search(r"\[[^\]]*\[", said) else said  # a choice within a choice reads worse than a name


@dataclass(frozen=True)
class Site:
    """A call in the kit's source, with the function and class around it."""

    module: str
    call: ast.Call
    func: Func | None
    where: str  # Class.method, function, or <module>
    cls: ast.ClassDef | None


def calls(module: str, tree: ast.Module) -> Iterator[Site]:
    """Every call of the module, with the function and class it is in."""
    def visit(node: ast.AST, func: Func | None, where: str, cls: ast.ClassDef | None) -> Iterator[Site]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from visit(child, child, f"{where}.{child.name}".lstrip("."), cls)
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, func, f"{where}.{child.name}".lstrip("."), child)
            else:
                if isinstance(child, ast.Call):
                    yield Site(module, child, func, where or "<module>", cls)
                yield from visit(child, func, where, cls)
    yield from visit(tree, None, "", None)


@dataclass(frozen=True)
class Signature:
    """Where an error class's constructor takes the message and the hint (message None: it makes its own)."""

    message: int | None
    hint: int | None


Named = tuple[str, str]  # (module, class name)


def resolve(kit: Kit, module: str, name: str) -> Named:
    """Where the class `name` used in `module` is defined: there, or in the kit module it is imported from (through
    a module that imports it in turn)."""
    for _ in range(4):
        if any(isinstance(n, ast.ClassDef) and n.name == name for n in kit.trees[module].body) \
                or name not in kit.imports[module]:
            break
        module = kit.imports[module][name]
    return module, name


def signatures(kit: Kit) -> dict[Named, Signature]:
    """KitError and every class derived from it, however indirectly, with where its constructor takes the words."""
    classes = {(module, node.name): node for module, tree in kit.trees.items() for node in tree.body
               if isinstance(node, ast.ClassDef)}
    found: dict[Named, Signature] = {}
    pending = [named for named in classes if named[1] == BASE]
    while pending:
        named = pending.pop(0)
        bases = [b for b in _bases(kit, named, classes[named]) if b in found]
        found[named] = _signature(classes[named]) or (found[bases[0]] if bases else Signature(0, 1))
        pending += [n for n, c in classes.items() if n not in found and n not in pending
                    and named in _bases(kit, n, c)]
    return found


def _bases(kit: Kit, named: Named, node: ast.ClassDef) -> list[Named]:
    return [resolve(kit, named[0], b.id) for b in node.bases if isinstance(b, ast.Name)]


def _signature(node: ast.ClassDef) -> Signature | None:
    init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    if init is None:
        return None
    params = [a.arg for a in (*init.args.args, *init.args.kwonlyargs)][1:]
    if "message" not in params:
        return Signature(None, None)  # it makes its own words: its super().__init__ is the refusal
    return Signature(params.index("message"), params.index("hint") if "hint" in params else None)


def argument(call: ast.Call, index: int | None, name: str) -> ast.expr | None:
    if index is not None and index < len(call.args) and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == name), None)


def words_of(site: Site, kit: Kit, classes: dict[Named, Signature]) -> tuple[ast.expr, ast.expr | None] | None:
    """The message and hint a call gives a refusal: a constructor's, or a class's own super().__init__'s."""
    func = site.call.func
    if isinstance(func, ast.Attribute) and func.attr == "__init__" and isinstance(func.value, ast.Call) \
            and _func_name(func.value) == "super":
        cls, named = site.cls, (site.module, site.cls.name if site.cls is not None else "")
        bases = [b for b in _bases(kit, named, cls) if b in classes] if cls is not None and named in classes else []
        sig = classes[bases[0]] if bases else None
    else:
        sig = classes.get(resolve(kit, site.module, func.id)) if isinstance(func, ast.Name) else None
    message = argument(site.call, sig.message, "message") if sig is not None else None
    return None if sig is None or message is None else (message, argument(site.call, sig.hint, "hint"))


def bind(call: ast.Call, callee: Func, caller: Scope, home: Scope) -> dict[str, tuple[ast.expr, Scope]]:
    """The callee's parameters as this call gives them (or their defaults, read where the callee is defined)."""
    args = callee.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
    positional = positional[1:] if positional[:1] in (["self"], ["cls"]) else positional
    defaults = list(zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True))
    defaults += [(a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
    bound = {name: (value, home) for name, value in defaults}
    given = zip(positional, call.args, strict=False)  # a call may give fewer than the callee takes
    bound |= {name: (value, caller) for name, value in given if not isinstance(value, ast.Starred)}
    return bound | {k.arg: (k.value, caller) for k in call.keywords if k.arg is not None}


def callers(func: Func, site: Site, kit: Kit, sites: list[Site]) -> list[Site]:
    """The calls of `site`'s function: of a module-level one, in its module or where it is imported from it; of a
    method, `self.name(...)` in its class."""
    name, module = func.name, site.module
    if site.cls is not None and func in site.cls.body:
        return [s for s in sites if s.module == module and s.cls is site.cls and isinstance(s.call.func, ast.Attribute)
                and s.call.func.attr == name and isinstance(s.call.func.value, ast.Name)
                and s.call.func.value.id == "self"]
    if func not in kit.trees[module].body:
        return []
    return [s for s in sites if isinstance(s.call.func, ast.Name) and s.call.func.id == name
            and (s.module == module or kit.imports[s.module].get(name) == module)]


def expanded(site: Site, words: tuple[ast.expr, ast.expr | None], kit: Kit,
             sites: list[Site]) -> Iterator[Refusal]:
    """The refusal where it is raised; or, when its message or hint is (nearly) all its function's parameters,
    once per caller that gives them words."""
    said, theirs = [], set()
    for part in words:
        scope = Scope(kit, site.module, site.func)
        said.append(render(part, scope) if part is not None else "")
        if own_letters(said[-1]) < OWN_WORDS:
            theirs |= scope.params_used
    func = site.func
    if theirs and func is not None:
        home = Scope(kit, site.module, None)
        calls_of = [(c, bind(c.call, func, Scope(kit, c.module, c.func), home))
                    for c in callers(func, site, kit, sites)]
        if any(has_words(bound[p][0]) for _, bound in calls_of for p in theirs if p in bound):
            for caller, bound in calls_of:
                message, hint = (render(part, Scope(kit, site.module, func, bound)) if part is not None else ""
                                 for part in words)
                yield Refusal(caller.module, caller.where, caller.call.lineno, message, hint, via=func.name)
            return
    yield Refusal(site.module, site.where, site.call.lineno, said[0], said[1])


def is_words(text: str) -> bool:
    """Whether a message says something of its own: not only a placeholder (a refusal raised again)."""
    return re.fullmatch(r"\[?'?<[^<>]*>'?\]?", text.strip()) is None


def refusals(root: Path) -> list[Refusal]:
    """Every refusal of kit/ below `root`, each place once, by module and line."""
    kit = Kit.read(root)
    classes = signatures(kit)
    sites = [site for module, tree in kit.trees.items() for site in calls(module, tree)]
    found: dict[tuple[str, int, str, str], Refusal] = {}
    for site in sites:
        if (words := words_of(site, kit, classes)) is not None:
            for refusal in expanded(site, words, kit, sites):
                if is_words(refusal.message):
                    found.setdefault((refusal.module, refusal.line, refusal.message, refusal.hint), refusal)
    return sorted(found.values(), key=lambda r: (r.module, r.line))
