# Template releases and updates (issue 3): scripts/bench-copier times `copier copy` and
# `copier update` with hyperfine (it falls back to a Python timer when hyperfine is absent).
APT_PACKAGES+=(hyperfine)
