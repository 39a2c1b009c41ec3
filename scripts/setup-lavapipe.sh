#!/usr/bin/env bash
# Optional, Debian 12 only, as root: installs Mesa 25's lavapipe (Vulkan on the CPU) from
# bookworm-backports. Dawn rejects Debian 12's own Mesa 22.3, and lavapipe 25 runs our
# compute kernels about 5x faster than SwiftShader, so training on a machine without a GPU
# goes that much faster. convgpu picks it up with no settings (it is a system Vulkan driver).
set -euo pipefail
echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers
echo "lavapipe installed: $(ls /usr/share/vulkan/icd.d/ | grep -i lvp)"
