#!/usr/bin/env bash
# Restore, build the whole solution (Release), convert the default backbone weights and leave ./pcnative.
# Idempotent: dotnet's incremental build does the rest, and the conversion is skipped when
# weights/resnet18-cntk.safetensors is newer than the ONNX inputs and the CLI.
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "build.sh: error: $*" >&2; exit 1; }
command -v dotnet >/dev/null || die "dotnet not found (install the .NET 10 SDK)"

echo "build.sh: restoring"
dotnet restore PatchCore.Native.sln --verbosity quiet || die "restore failed"
echo "build.sh: building Release"
dotnet build PatchCore.Native.sln -c Release --no-restore --nologo --verbosity quiet || die "build failed"

cli=src/PatchCore.Cli/bin/Release/net10.0/pcnative
[ -x "$cli" ] || die "CLI not built: $cli"

# The CNTK ResNet18 ONNX files come from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18,
# restored as a PackageDownload of the CLI project (files only, nothing referenced).
packages="${NUGET_PACKAGES:-}"
if [ -z "$packages" ]; then
  packages="$(dotnet nuget locals global-packages -l | sed -n 's/^global-packages: *//p')"
fi
[ -n "$packages" ] || die "cannot locate the NuGet global packages folder"
models="${packages%/}/microsoft.ml.dnnimagefeaturizer.resnet18/0.23.1/tools/DnnImageModels"
onnx="$models/ResNet18Onnx/ResNet18.onnx"
prep="$models/ResNetPrepOnnx/ResNetPreprocess.onnx"
[ -f "$onnx" ] || die "missing $onnx (the restore should have downloaded Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1)"
[ -f "$prep" ] || die "missing $prep"

out=weights/resnet18-cntk.safetensors
if [ -f "$out" ] && [ "$out" -nt "$onnx" ] && [ "$out" -nt "$prep" ] && [ "$out" -nt "$cli" ] \
   && [ "$out" -nt src/PatchCore.Cli/bin/Release/net10.0/PatchCore.dll ]; then
  echo "build.sh: $out is up to date"
else
  echo "build.sh: converting $onnx"
  "$cli" convert onnx "$onnx" --preprocess "$prep" --out "$out" --name resnet18-cntk || die "weight conversion failed"
fi

# ./pcnative: a launcher for the built apphost (git-ignored).
cat > pcnative.tmp <<'LAUNCHER'
#!/bin/sh
exec "$(dirname "$0")/src/PatchCore.Cli/bin/Release/net10.0/pcnative" "$@"
LAUNCHER
chmod +x pcnative.tmp
mv -f pcnative.tmp pcnative
echo "build.sh: done; run ./pcnative --help"
