#!/usr/bin/env bash
# Reproduces docs/validation.md: fits of the built-in scenarios to their data and the Shanghai backtests.
# Usage: bash docs/validation/run.sh OUTDIR   (about an hour on 2 cores; results/validation by default)
set -euo pipefail
OUT=${1:-results/validation}
Z=${ZEROSIM:-zerosim}
COMMON="--particles 30 --generations 3 --workers 2 --threads 1 --max-minutes 8 --force --quiet"
SH_PRIORS=(--prior "transmission.r0=uniform(5,15)" --prior "seeding.0.count=loguniform(2,20)"
           --prior "behaviour.base_compliance=uniform(0.05,0.6)" --prior "ascertainment=uniform(0.3,1)"
           --set behaviour.minimum_compliance=0.05 --set seeding.0.per_100k=null)
mkdir -p "$OUT"
# Shanghai 2022, all data (to 31 May), at 1/100 scale
$Z calibrate shanghai-2022 --data shanghai_2022_cases --population 250000 "${SH_PRIORS[@]}" $COMMON --out "$OUT/shanghai-fit"
# Backtests: what the forecast said on 15 April, 1 May and 15 May about the city's release
for until in 2022-04-15 2022-05-01 2022-05-15; do
  $Z forecast shanghai-2022 --data shanghai_2022_cases --until $until --population 250000 "${SH_PRIORS[@]}" \
     $COMMON --runs 40 --out "$OUT/shanghai-forecast-$until"
done
# Wuhan 2020 (reported confirmed cases), at 1/50 scale
$Z calibrate wuhan-2020 --data wuhan_2020_cases --population 246530 \
   --prior "transmission.r0=uniform(1.5,4)" --prior "seeding.0.count=loguniform(1,30)" \
   --prior "ascertainment=uniform(0.05,1)" $COMMON --out "$OUT/wuhan-fit"
# Chongqing 2022 (partial series: 31 days), at 1/100 scale
$Z calibrate chongqing-2022 --data chongqing_2022_cases --population 320542 \
   --prior "transmission.r0=uniform(3,15)" --prior "seeding.0.count=loguniform(1,30)" \
   --prior "behaviour.base_compliance=uniform(0.05,0.6)" --prior "ascertainment=uniform(0.3,1)" \
   --set behaviour.enabled=true --set behaviour.minimum_compliance=0.05 $COMMON --out "$OUT/chongqing-fit"
