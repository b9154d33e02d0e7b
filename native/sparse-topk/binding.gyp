{
  "targets": [
    {
      "target_name": "sparse_topk",
      "sources": ["src/sparse_topk.c"],
      "cflags": ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-ffp-contract=off"] },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/fp:strict"] } }
    }
  ]
}
