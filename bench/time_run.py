"""Time one simulation (after a small JIT warm-up): python bench/time_run.py SCENARIO N DAYS POLICY; prints seconds."""
import sys, time, zerosim
scenario, n, days, policy = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
zerosim.run(zerosim.load_scenario(scenario, {"population.size": 2000, "duration_days": 3, "policy": policy}))
sc = zerosim.load_scenario(scenario, {"population.size": n, "duration_days": days, "policy": policy})
sim = zerosim.build(sc); sim.setup()
t = time.perf_counter(); sim.run(); print(f"{time.perf_counter() - t:.3f}")
