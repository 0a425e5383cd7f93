// Cost facts shared by the job types (plan time, no libtorch).
#ifndef VLMSCALE_JOBS_NOMINAL_COST_H_
#define VLMSCALE_JOBS_NOMINAL_COST_H_

#include <cstdint>
#include <string>

#include "config/sweep.h"

namespace vlmscale::jobs {

// Q, the question tokens of a built-in task; 0 for a task vlmscale does not generate.
int64_t TaskTextTokens(const std::string& task);

// Training FLOPs of a job with no training budget of its own (sleep, command): the LLM's
// forward and backward pass, 6*N*(Q+V) per example, times the built-in trainer's default budget
// (train::TrainOptions steps x batch_size). Only ratios between jobs matter (scheduling, sleep's
// cost mode).
double NominalTrainingFlops(const config::GridPoint& point, int64_t text_tokens);

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_NOMINAL_COST_H_
