#!/usr/bin/env bash
# System tools the project needs: openmpt123 (renders tracker music for the sample library),
# ffmpeg (decodes what libsndfile cannot: m4a/aac, wma...), sox (handy for audio checks).
# Idempotent: does nothing when all are present.
set -euo pipefail
need=()
for tool in openmpt123 ffmpeg sox; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
((${#need[@]} == 0)) && exit 0
pkgs=(openmpt123 ffmpeg sox libsox-fmt-all)
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${pkgs[*]} (missing: ${need[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  exit 0
fi
echo "Missing system tools: ${need[*]}." >&2
echo "Install them, e.g. on Debian/Ubuntu: sudo apt-get install ${pkgs[*]}" >&2
exit 1
