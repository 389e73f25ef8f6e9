// Learning-rate schedules at chosen update counts, against MXNet 1.9.1's FactorScheduler,
// MultiFactorScheduler and CosineScheduler semantics (values computed by hand), with warm-up.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>

#include "loom/scheduler/error.h"
#include "loom/train/lr_schedule.h"

namespace loom::train {
namespace {

proto::LrSchedule Schedule(const std::string& type) {
  proto::LrSchedule cfg;
  cfg.set_type(type);
  return cfg;
}

TEST(LrScheduleTest, NoneIsConstant) {
  auto s = LrSchedule::Create(Schedule("none"), 0.1f);
  EXPECT_FLOAT_EQ((*s)(0), 0.1f);
  EXPECT_FLOAT_EQ((*s)(1), 0.1f);
  EXPECT_FLOAT_EQ((*s)(1000000), 0.1f);
}

TEST(LrScheduleTest, FactorDecaysOnceTheCountPassesEachStep) {
  proto::LrSchedule cfg = Schedule("factor");
  cfg.set_step(100);
  cfg.set_factor(0.5f);
  auto s = LrSchedule::Create(cfg, 0.1f);
  // MXNet: while num_update > count + step: count += step; lr *= factor
  EXPECT_DOUBLE_EQ(s->Rate(0), 0.1);
  EXPECT_DOUBLE_EQ(s->Rate(1), 0.1);
  EXPECT_DOUBLE_EQ(s->Rate(100), 0.1);
  EXPECT_DOUBLE_EQ(s->Rate(101), 0.05);
  EXPECT_DOUBLE_EQ(s->Rate(200), 0.05);
  EXPECT_DOUBLE_EQ(s->Rate(201), 0.025);
  EXPECT_DOUBLE_EQ(s->Rate(1001), 0.1 / 1024);
  EXPECT_FLOAT_EQ((*s)(201), 0.025f);
}

TEST(LrScheduleTest, FactorStopsAtMinLr) {
  proto::LrSchedule cfg = Schedule("factor");
  cfg.set_step(10);
  cfg.set_factor(0.1f);
  cfg.set_min_lr(0.002f);
  auto s = LrSchedule::Create(cfg, 1.0f);
  EXPECT_DOUBLE_EQ(s->Rate(11), 0.1);
  EXPECT_NEAR(s->Rate(21), 0.01, 1e-15);
  EXPECT_DOUBLE_EQ(s->Rate(31), 0.002);
  EXPECT_DOUBLE_EQ(s->Rate(100000), 0.002);
}

TEST(LrScheduleTest, FactorWithStepOneAtLargeCountsIsCheap) {
  proto::LrSchedule cfg = Schedule("factor");
  cfg.set_step(1);
  cfg.set_factor(0.999f);
  auto s = LrSchedule::Create(cfg, 1.0f);
  EXPECT_NEAR(s->Rate(1001), std::pow(0.999, 1000), 1e-12);
  EXPECT_GE(s->Rate(100000000), 0.0);
}

TEST(LrScheduleTest, MultiFactorDecaysAfterEachListedStep) {
  proto::LrSchedule cfg = Schedule("multifactor");
  cfg.add_steps(10);
  cfg.add_steps(25);
  cfg.set_factor(0.1f);
  auto s = LrSchedule::Create(cfg, 1.0f);
  EXPECT_DOUBLE_EQ(s->Rate(0), 1.0);
  EXPECT_DOUBLE_EQ(s->Rate(10), 1.0);
  EXPECT_DOUBLE_EQ(s->Rate(11), 0.1);
  EXPECT_DOUBLE_EQ(s->Rate(25), 0.1);
  EXPECT_NEAR(s->Rate(26), 0.01, 1e-15);
  EXPECT_NEAR(s->Rate(5000), 0.01, 1e-15);
}

TEST(LrScheduleTest, CosineFromBaseToMinLr) {
  proto::LrSchedule cfg = Schedule("cosine");
  cfg.set_max_update(100);
  cfg.set_min_lr(0.1f);
  auto s = LrSchedule::Create(cfg, 1.0f);
  EXPECT_DOUBLE_EQ(s->Rate(0), 1.0);
  EXPECT_NEAR(s->Rate(50), 0.55, 1e-12);  // 0.1 + 0.9 * (1 + cos(pi / 2)) / 2
  EXPECT_NEAR(s->Rate(25), 0.1 + 0.9 * (1 + std::cos(std::numbers::pi / 4)) / 2, 1e-12);
  EXPECT_NEAR(s->Rate(100), 0.1, 1e-12);
  EXPECT_NEAR(s->Rate(150), 0.1, 1e-12);
}

TEST(LrScheduleTest, CosineOverTheWholeRunWhenMaxUpdateIsZero) {
  auto s = LrSchedule::Create(Schedule("cosine"), 2.0f, /*total_updates=*/40);
  EXPECT_NEAR(s->Rate(20), 1.0, 1e-12);
  EXPECT_NEAR(s->Rate(40), 0.0, 1e-12);
}

TEST(LrScheduleTest, LinearWarmUpThenTheSchedule) {
  proto::LrSchedule cfg = Schedule("factor");
  cfg.set_step(20);
  cfg.set_factor(0.5f);
  cfg.set_warmup_steps(10);
  cfg.set_warmup_begin_lr(0.02f);
  auto s = LrSchedule::Create(cfg, 0.1f);
  EXPECT_NEAR(s->Rate(0), 0.02, 1e-15);
  EXPECT_NEAR(s->Rate(5), 0.06, 1e-15);  // 0.02 + (0.1 - 0.02) * 5 / 10
  EXPECT_NEAR(s->Rate(9), 0.092, 1e-15);
  EXPECT_DOUBLE_EQ(s->Rate(10), 0.1);
  EXPECT_DOUBLE_EQ(s->Rate(20), 0.1);
  EXPECT_DOUBLE_EQ(s->Rate(21), 0.05);  // decays count from update 0, as MXNet's
}

TEST(LrScheduleTest, CosineWarmUpStartsTheDecayAfterIt) {
  proto::LrSchedule cfg = Schedule("cosine");
  cfg.set_max_update(110);
  cfg.set_warmup_steps(10);
  auto s = LrSchedule::Create(cfg, 1.0f);
  EXPECT_NEAR(s->Rate(5), 0.5, 1e-15);
  EXPECT_DOUBLE_EQ(s->Rate(10), 1.0);
  EXPECT_NEAR(s->Rate(60), 0.5, 1e-12);
  EXPECT_NEAR(s->Rate(110), 0.0, 1e-12);
}

TEST(LrScheduleTest, WarmUpWithoutSchedule) {
  proto::LrSchedule cfg = Schedule("none");
  cfg.set_warmup_steps(4);
  auto s = LrSchedule::Create(cfg, 0.4f);
  EXPECT_NEAR(s->Rate(1), 0.1, 1e-15);
  EXPECT_NEAR(s->Rate(4), 0.4, 1e-15);
}

TEST(LrScheduleTest, FloatSettingsAreReadAsTheirDecimalValues) {
  // 0.1f is 0.100000001490116...; the schedule computes with 0.1, as Python would.
  proto::LrSchedule cfg = Schedule("factor");
  cfg.set_step(1);
  cfg.set_factor(0.1f);
  auto s = LrSchedule::Create(cfg, 0.1f);
  EXPECT_DOUBLE_EQ(s->Rate(0), 0.1);
  EXPECT_DOUBLE_EQ(s->Rate(2), 0.1 * 0.1);
}

void ExpectConfigError(const proto::LrSchedule& cfg, const std::string& fragment,
                       int64_t total_updates = 0) {
  try {
    LrSchedule::Create(cfg, 0.1f, total_updates);
    FAIL() << "expected ConfigError mentioning " << fragment;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(LrScheduleTest, InvalidSettingsNameTheKey) {
  ExpectConfigError(Schedule("exponential"), "optimizer.lr_schedule.type");
  proto::LrSchedule factor = Schedule("factor");
  factor.set_factor(2);
  ExpectConfigError(factor, "optimizer.lr_schedule.factor");
  factor.set_factor(0.5f);
  factor.set_step(0);
  ExpectConfigError(factor, "optimizer.lr_schedule.step");
  proto::LrSchedule multi = Schedule("multifactor");
  ExpectConfigError(multi, "optimizer.lr_schedule.steps");
  multi.add_steps(20);
  multi.add_steps(10);
  ExpectConfigError(multi, "optimizer.lr_schedule.steps[1]");
  ExpectConfigError(Schedule("cosine"), "optimizer.lr_schedule.max_update");
  proto::LrSchedule warm = Schedule("none");
  warm.set_warmup_steps(5);
  warm.set_warmup_begin_lr(1.0f);
  ExpectConfigError(warm, "optimizer.lr_schedule.warmup_begin_lr");
}

}  // namespace
}  // namespace loom::train
