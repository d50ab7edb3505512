# Restore, build the whole solution (Release), convert the default backbone weights and leave a pcnative
# launcher (pcnative.cmd on Windows, ./pcnative elsewhere). Same steps as build.sh.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Set-Location $PSScriptRoot

function Die([string]$msg) { Write-Error "build.ps1: error: $msg"; exit 1 }

if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) { Die 'dotnet not found (install the .NET 10 SDK)' }

Write-Host 'build.ps1: restoring'
dotnet restore PatchCore.Native.sln --verbosity quiet
if ($LASTEXITCODE -ne 0) { Die 'restore failed' }
Write-Host 'build.ps1: building Release'
dotnet build PatchCore.Native.sln -c Release --no-restore --nologo --verbosity quiet
if ($LASTEXITCODE -ne 0) { Die 'build failed' }

$binDir = Join-Path $PSScriptRoot 'src/PatchCore.Cli/bin/Release/net10.0'
$cli = Join-Path $binDir ($(if ($IsWindows -or $env:OS -eq 'Windows_NT') { 'pcnative.exe' } else { 'pcnative' }))
if (-not (Test-Path $cli)) { Die "CLI not built: $cli" }

# The CNTK ResNet18 ONNX files come from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18
# (a PackageDownload of the CLI project: files only, nothing referenced).
$packages = $env:NUGET_PACKAGES
if (-not $packages) {
    $line = dotnet nuget locals global-packages -l | Select-String '^global-packages:\s*(.+)$'
    if (-not $line) { Die 'cannot locate the NuGet global packages folder' }
    $packages = $line.Matches[0].Groups[1].Value.Trim()
}
$models = Join-Path $packages 'microsoft.ml.dnnimagefeaturizer.resnet18/0.23.1/tools/DnnImageModels'
$onnx = Join-Path $models 'ResNet18Onnx/ResNet18.onnx'
$prep = Join-Path $models 'ResNetPrepOnnx/ResNetPreprocess.onnx'
if (-not (Test-Path $onnx)) { Die "missing $onnx (the restore should have downloaded Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1)" }
if (-not (Test-Path $prep)) { Die "missing $prep" }

$out = Join-Path $PSScriptRoot 'weights/resnet18-cntk.safetensors'
$inputs = @($onnx, $prep, $cli, (Join-Path $binDir 'PatchCore.dll'))
$upToDate = (Test-Path $out) -and -not ($inputs | Where-Object { (Get-Item $_).LastWriteTimeUtc -ge (Get-Item $out).LastWriteTimeUtc })
if ($upToDate) {
    Write-Host "build.ps1: $out is up to date"
} else {
    Write-Host "build.ps1: converting $onnx"
    & $cli convert onnx $onnx --preprocess $prep --out $out --name resnet18-cntk
    if ($LASTEXITCODE -ne 0) { Die 'weight conversion failed' }
}

if ($IsWindows -or $env:OS -eq 'Windows_NT') {
    Set-Content -Path (Join-Path $PSScriptRoot 'pcnative.cmd') -Value "@`"%~dp0src\PatchCore.Cli\bin\Release\net10.0\pcnative.exe`" %*" -Encoding ascii
    Write-Host 'build.ps1: done; run .\pcnative.cmd --help'
} else {
    $launcher = Join-Path $PSScriptRoot 'pcnative'
    Set-Content -Path $launcher -Value "#!/bin/sh`nexec `"`$(dirname `"`$0`")/src/PatchCore.Cli/bin/Release/net10.0/pcnative`" `"`$@`"" -NoNewline
    chmod +x $launcher
    Write-Host 'build.ps1: done; run ./pcnative --help'
}
