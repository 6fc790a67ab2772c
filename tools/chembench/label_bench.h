// chembench's label benchmark (see label_bench.cc for what it measures).

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_LABEL_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_LABEL_BENCH_H_

namespace chemledger::chembench {

struct LabelBenchOptions {
  double seconds = 3;  // per figure
  int threads = 0;     // 0: one per core
};

// Prints Markdown tables to stdout; returns a process exit status.
int RunLabelBench(const LabelBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_LABEL_BENCH_H_
