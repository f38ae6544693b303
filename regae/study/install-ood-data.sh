#!/bin/sh
# Install Fashion-MNIST for `regae study nondigits` (and its tests) from Debian's package
# dataset-fashion-mnist, which puts the four IDX files under /usr/share/datasets/fashion-mnist/.
# Idempotent; uses sudo when not run as root. regae itself never installs anything.
set -eu
DIR=/usr/share/datasets/fashion-mnist
if [ -f "$DIR/t10k-images-idx3-ubyte.gz" ] && [ -f "$DIR/train-images-idx3-ubyte.gz" ]; then
    echo "Fashion-MNIST already installed in $DIR"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends dataset-fashion-mnist
ls "$DIR"
