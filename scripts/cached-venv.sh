# Shared by the scripts that keep a venv of their own under ~/.cache/audiomuse (source it).
# A stamp file holding the requirement list makes a second run exit at once (importing TensorFlow
# to check would take 10-30 s); a changed list rebuilds into the same place.
CACHE=${AUDIOMUSE_CACHE:-$HOME/.cache/audiomuse}
export UV_CACHE_DIR=${UV_CACHE_DIR:-$CACHE/uv}

# venv_is_current VENV WANT: true when VENV was built from exactly WANT
venv_is_current() {
  [[ -x $1/bin/python && -f $1/.audiomuse-requirements && "$(cat "$1/.audiomuse-requirements")" == "$2" ]]
}

# venv_create VENV WHAT: an empty venv (Python 3.11) at VENV, its stamp removed until venv_done
venv_create() {
  command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
  echo "creating $2 in $1 (cached)"
  rm -f "$1/.audiomuse-requirements"
  uv venv --quiet --allow-existing --python python3.11 "$1"
}

# venv_done VENV WANT: record what VENV was built from
venv_done() {
  printf '%s' "$2" >"$1/.audiomuse-requirements"
}
