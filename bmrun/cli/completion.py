"""``bmrun --completion bash|zsh|fish``: a shell completion script with every word built in.

The words (``GROUP=OPTION`` for every option, plugins included, ``GROUP.KEY=`` for every key
of the schemas, the top-level keys and flags) are computed once, when the script is written,
so pressing TAB runs no Python at all and answers at once. Re-run the install command after
installing a plugin. Install (see README):

    bmrun --completion bash > ~/.bmrun-completion.bash && echo 'source ~/.bmrun-completion.bash' >> ~/.bashrc
    bmrun --completion zsh > ~/.bmrun-completion.zsh && echo 'source ~/.bmrun-completion.zsh' >> ~/.zshrc
    bmrun --completion fish > ~/.config/fish/completions/bmrun.fish
"""

from __future__ import annotations

from bmrun.errors import ConfigError
import dataclasses

SHELLS = ("bash", "zsh", "fish")
_FLAGS = ("--help", "--multirun", "--cfg", "--hydra-help")

_BASH = """\
# bmrun completion (bash), written by: bmrun --completion bash
_bmrun_words='{words}'
_bmrun() {{
    local line="${{COMP_LINE:0:COMP_POINT}}"
    local cur="${{line##* }}" prefix=""
    # bash splits words at '=': complete the whole KEY=VALUE, hand back the part after the last '='
    [[ "$cur" == *=* ]] && prefix="${{cur%=*}}="
    COMPREPLY=($(compgen -W "$_bmrun_words" -- "$cur"))
    COMPREPLY=("${{COMPREPLY[@]#"$prefix"}}")
    [[ ${{#COMPREPLY[@]}} -eq 1 && "${{COMPREPLY[0]}}" != *= ]] || compopt -o nospace 2>/dev/null
}}
complete -F _bmrun bmrun
"""

_ZSH = """\
# bmrun completion (zsh), written by: bmrun --completion zsh
(( $+functions[compdef] )) || {{ autoload -Uz compinit && compinit }}
_bmrun_words=({words})
_bmrun() {{ compadd -Q -S '' -- $_bmrun_words }}
compdef _bmrun bmrun
"""

_FISH = """\
# bmrun completion (fish), written by: bmrun --completion fish
complete -c bmrun -f -a '{words}'
"""


def words() -> list[str]:
    """Every word TAB may offer: flags, ``GROUP=OPTION``, ``GROUP.KEY=`` and top-level ``KEY=``."""
    # bmrun.cli.help brings numpy, omegaconf: only when this runs, keeps --help light
    from bmrun.cli.help import groups
    from bmrun.cli.keys import key_lines

    found = list(_FLAGS)
    for group, options in groups().items():
        found += [f"{group}={option}" for option in options]
        keys: set[str] = set()
        for option in options if group in ("model", "data") else list(options)[:1]:
            try:
                keys |= {row[0] for row in key_lines(group, option)}
            except (ConfigError, ImportError, AttributeError):  # presets, or a plugin that cannot load
                continue
        found += [f"{key}=" for key in sorted(keys)]
    # bmrun.config.schema brings numpy, omegaconf: only when this runs, keeps --help light
    from bmrun.config.schema import TrainConfig

    found += [f"{f.name}=" for f in dataclasses.fields(TrainConfig) if not isinstance(f.default, type(dataclasses.MISSING))
              and f.name not in groups()]
    return sorted(set(found), key=found.index)


def script(shell: str) -> str:
    """The completion script for ``shell``.

    Raises:
        ConfigError: An unknown shell.
    """
    if shell not in SHELLS:
        raise ConfigError("--completion", f"knows {', '.join(SHELLS)}; got {shell!r}")
    template = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}[shell]
    return template.format(words=" ".join(words()))
