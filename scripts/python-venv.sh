# Sourced by the check scripts: `python_venv PACKAGE...` makes a private virtualenv under
# target/ci-venv with those PyPI packages (installing only what is missing) and sets $venv.
python_venv() {
    python3 --version >/dev/null
    venv=target/ci-venv
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    local missing=()
    for package in "$@"; do
        if ! "$venv/bin/pip" show --quiet "$package" >/dev/null 2>&1; then
            missing+=("$package")
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        "$venv/bin/pip" install --quiet "${missing[@]}"
    fi
}
