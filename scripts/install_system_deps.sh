#!/usr/bin/env bash
# System tools the project needs: openmpt123 (renders tracker music for the sample library),
# fluidsynth and the FluidR3 General MIDI soundfont (render the tempo/key ground-truth set), ffmpeg (decodes what libsndfile cannot: m4a/aac, wma...), sox (handy for audio checks), mpd (the real
# Music Player Daemon the MPD provider is tested against, started unprivileged by the tests); with
# --browser also Debian's chromium, which the explorer's browser test drives (make test,
# make browser-check). Idempotent: does nothing when all are present. Downloaded packages are kept
# under $AUDIOMUSE_CACHE/debs/apt, so a machine that keeps ~/.cache installs them offline next time.
set -euo pipefail
tools=(openmpt123 fluidsynth ffmpeg sox mpd)
pkgs=(openmpt123 fluidsynth fluid-soundfont-gm ffmpeg sox libsox-fmt-all mpd)
if [[ ${1:-} == --browser ]]; then
  tools+=(chromium)
  pkgs+=(chromium)
fi
need=()
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
[[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]] || need+=(fluid-soundfont-gm)
((${#need[@]} == 0)) && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${pkgs[*]} (missing: ${need[*]})"
  export DEBIAN_FRONTEND=noninteractive
  archives="${AUDIOMUSE_CACHE:-$HOME/.cache/audiomuse}/debs/apt"
  mkdir -p "$archives/partial"
  install() { apt-get install -y -qq --no-install-recommends -o Dir::Cache::archives="$archives" "${pkgs[@]}" >/dev/null; }
  install 2>/dev/null || { apt-get update -qq && install; }
  exit 0
fi
echo "Missing system tools: ${need[*]}." >&2
echo "Install them, e.g. on Debian/Ubuntu: sudo apt-get install ${pkgs[*]}" >&2
exit 1
