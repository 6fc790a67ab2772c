// A year of a province's hazardous-chemical trade, generated: 10,000
// methanol packages across 26 enterprises in three regions (6 producers, 9
// warehouses, 6 users, 3 disposers, 2 carriers), shipped on e-waybills,
// received, used, disposed of; with faults injected (shipments lost on the
// road, a clone scan, an over-consumption attempt, a disposal without its
// manifest, a loss of 剧毒 goods, an attempt by a blacklisted enterprise).
//
// What the test sent is booked by the test itself, independently of the
// ledger; the reconciliation must give exactly those figures (the whole
// year and one quarter), every injected anomaly must be listed and nothing
// else. A real journal on a real LevelDB store, its clock moved by the test
// (the test clock of chemledgerd serve --test-clock, in process).

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "gtest/gtest.h"
#include "journal/journal.h"
#include "services/audit/anomalies.h"
#include "services/audit/reconciliation.h"
#include "services/audit/refusal_recorder.h"
#include "services/common/envelope.h"
#include "services/label/issuance.h"
#include "services/ledger/code_state.h"
#include "services/ledger/ledger.h"
#include "services/ledger/lifecycle_rules.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_rules.h"
#include "services/waybill/waybill_testing.h"
#include "services/waybill/waybills.h"
#include "testing/test_ledger.h"

namespace chemledger::audit {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;
using registry::testing::ExampleUscc;

constexpr int kMonths = 12;
constexpr uint64_t kPackageMilli = 25000;  // 25 kg

// What the test books for one enterprise and one producer's methanol.
struct Book {
  int64_t produced = 0, received = 0, shipped = 0, consumed = 0, disposed = 0, lost = 0;
  int64_t delivered = 0;
  int64_t stock = 0, in_transit = 0, lost_held = 0;
};

struct Party {
  std::string uscc;
  std::unique_ptr<crypto::SigningKey> key;
};

class AuditScenarioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetNow(absl::Now());
    chemledger::testing::TestLedgerOptions options;
    options.clock = [this] { return Now(); };
    t_ = TestLedger::Create("audit_scenario", admin_, options);
    recorder_ = std::make_unique<RefusalRecorder>(
        &t_->client(), [this] { return Now(); },
        [this](const storage::StateReader& state,
               const v1::SignedEnvelope& request) -> absl::StatusOr<bool> {
          if (request.payload_type() == api::kEventContext.payload_type()) {
            return journal::AlreadyAccepted(state, lifecycle_rules_, request);
          }
          if (request.payload_type() == api::kWaybillContext.payload_type()) {
            return journal::AlreadyAccepted(state, waybill_rules_, request);
          }
          return false;
        });
    ledger_ = std::make_unique<ledger::Ledger>(&t_->client(), recorder_.get());
    waybills_ = std::make_unique<waybill::WaybillBook>(&t_->client(), &t_->keyring(),
                                                       [this] { return Now(); }, recorder_.get());
    ASSERT_TRUE(t_->AddActor(admin_, "", v1::REGULATOR, regulator_, "省应急管理厅").ok());
    ASSERT_TRUE(t_->AddLabelKey(admin_).ok());
    const absl::CivilDay far = api::TodayInChina() + 700;
    int seed = 100;
    // Three regions: 福建 (35), 北京 (11), 广东 (44).
    for (const char* region : {"35", "11", "44"}) {
      auto add = [&](std::vector<Party>* into, const std::string& district, v1::Enterprise e) {
        Party p{e.uscc(), std::make_unique<crypto::SigningKey>(TestKey(++seed))};
        ASSERT_TRUE(t_->RegisterEnterprise(admin_, e).ok()) << e.uscc();
        ASSERT_TRUE(t_->AddActor(admin_, p.uscc, v1::ENTERPRISE_OPERATOR, *p.key).ok());
        into->push_back(std::move(p));
        (void)district;
      };
      for (int i = 0; i < 2; ++i) {
        const std::string uscc = ExampleUscc(absl::StrCat(region, "010", i));
        v1::Enterprise e = registry::testing::ExampleProducer(uscc);
        for (v1::Licence& l : *e.mutable_licences()) *l.mutable_valid_until() = api::ToProtoDate(far);
        ASSERT_NO_FATAL_FAILURE(add(&producers_, "", e));
        ASSERT_TRUE(
            t_->RegisterProduct(admin_, registry::testing::ExampleMethanol(uscc, "M01")).ok());
      }
      for (int i = 0; i < 3; ++i) {
        const std::string uscc = ExampleUscc(absl::StrCat(region, "020", i));
        ASSERT_NO_FATAL_FAILURE(add(&warehouses_, "", registry::testing::ExampleEnterprise(
                                                          uscc, v1::WAREHOUSE,
                                                          v1::HAZARDOUS_CHEMICALS_TRADE, far)));
      }
      for (int i = 0; i < 2; ++i) {
        const std::string uscc = ExampleUscc(absl::StrCat(region, "030", i));
        ASSERT_NO_FATAL_FAILURE(add(&users_, "", registry::testing::ExampleEnterprise(
                                                     uscc, v1::USER,
                                                     v1::LICENCE_TYPE_UNSPECIFIED, far)));
      }
      const std::string disposer = ExampleUscc(absl::StrCat(region, "0400"));
      ASSERT_NO_FATAL_FAILURE(add(&disposers_, "", registry::testing::ExampleEnterprise(
                                                       disposer, v1::DISPOSER,
                                                       v1::HAZARDOUS_WASTE, far)));
    }
    for (const char* region : {"350500", "440500"}) {
      Party p{ExampleUscc(region), std::make_unique<crypto::SigningKey>(TestKey(++seed))};
      ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleEnterprise(
                                                     p.uscc, v1::CARRIER, v1::ROAD_TRANSPORT, far))
                      .ok());
      ASSERT_TRUE(t_->AddActor(admin_, p.uscc, v1::ENTERPRISE_OPERATOR, *p.key).ok());
      carriers_.push_back(std::move(p));
    }
    // Every consignor lets both carriers' waybills open at once.
    for (const std::vector<Party>* group : {&producers_, &warehouses_}) {
      for (const Party& p : *group) {
        for (const Party& c : carriers_) ASSERT_TRUE(t_->AuthorizeCarrier(*p.key, c.uscc).ok());
      }
    }
  }

  void TearDown() override {
    ledger_.reset();
    waybills_.reset();
    recorder_.reset();
  }

  // The scenario's clock, read by the journal and the refusal recorder on
  // their own threads.
  absl::Time Now() const { return absl::FromUnixMicros(now_micros_.load()); }
  void SetNow(absl::Time t) { now_micros_.store(absl::ToUnixMicros(t)); }
  void Tick(absl::Duration d = absl::Minutes(1)) { SetNow(Now() + d); }

  v1::Event NewEvent(v1::BusinessStep step, const std::string& uscc,
                     const std::vector<std::string>& codes) {
    Tick();
    v1::Event e;
    e.set_event_id(absl::StrCat("scenario-", ++next_id_));
    e.set_step(step);
    for (const std::string& c : codes) e.add_codes(c);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(Now()));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(uscc);
    e.mutable_location()->set_site("main");
    return e;
  }

  absl::Status Append(const crypto::SigningKey& key, const v1::Event& e) {
    absl::StatusOr<v1::SignedEnvelope> env =
        envelope::Sign(api::kEventContext, e.SerializeAsString(), key);
    if (!env.ok()) return env.status();
    absl::StatusOr<ledger::EventReceipt> r = ledger_->Append(*env);
    return r.ok() ? absl::OkStatus() : r.status();
  }

  void Ok(const crypto::SigningKey& key, const v1::Event& e) {
    const absl::Status s = Append(key, e);
    ASSERT_TRUE(s.ok()) << v1::BusinessStep_Name(e.step()) << ": " << s;
  }

  // The ledger's position of a party's books for producer `issuer`'s M01.
  Book& BookOf(const std::string& uscc, const std::string& issuer) {
    return books_[{uscc, issuer}];
  }

  // Ships `codes` (all of producer `issuer`'s, held by `from`) to `to` on a
  // new waybill of carrier `carrier`; receives them unless `lose`.
  void Ship(const Party& from, const Party& to, const Party& carrier,
            const std::vector<std::string>& codes, bool lose = false) {
    const std::string number = absl::StrCat("YD", ++next_id_);
    v1::WaybillRequest r;
    r.set_request_id(absl::StrCat("wb-", next_id_));
    v1::Waybill w = waybill::testing::ExampleWaybill(number, carrier.uscc, from.uscc, to.uscc, {},
                                                      kPackageMilli, "KGM");
    w.mutable_goods(0)->clear_codes();
    uint64_t milli = 0;
    for (const std::string& c : codes) {
      w.mutable_goods(0)->add_codes(c);
      milli += remaining_[c];
    }
    w.mutable_goods(0)->set_quantity_milli(milli);
    w.mutable_planned_departure()->set_seconds(absl::ToUnixSeconds(Now()));
    w.mutable_planned_arrival()->set_seconds(absl::ToUnixSeconds(Now() + absl::Hours(8)));
    *r.mutable_submit() = w;
    absl::StatusOr<v1::SignedEnvelope> env =
        envelope::Sign(api::kWaybillContext, r.SerializeAsString(), *carrier.key);
    ASSERT_TRUE(env.ok());
    Tick();
    absl::StatusOr<waybill::WaybillReceipt> receipt = waybills_->Apply(*env);
    ASSERT_TRUE(receipt.ok()) << number << ": " << receipt.status();
    v1::Event ship = NewEvent(v1::SHIPPING, from.uscc, codes);
    ship.set_consignee_uscc(to.uscc);
    ship.set_waybill_id(number);
    ASSERT_NO_FATAL_FAILURE(Ok(*from.key, ship));
    for (const std::string& c : codes) {
      Book& b = BookOf(from.uscc, issuer_of_.at(c));
      b.shipped += remaining_[c];
      b.stock -= remaining_[c];
      b.in_transit += remaining_[c];
      carried_[carrier.uscc] += remaining_[c];
    }
    holdings_[from.uscc].erase(holdings_[from.uscc].begin(),
                               holdings_[from.uscc].begin() + codes.size());
    if (lose) {
      lost_waybills_.insert(absl::StrCat(carrier.uscc, "/", number));
      return;
    }
    Tick(absl::Hours(1));
    ASSERT_NO_FATAL_FAILURE(Ok(*to.key, NewEvent(v1::RECEIVING, to.uscc, codes)));
    for (const std::string& c : codes) {
      Book& sender = BookOf(from.uscc, issuer_of_.at(c));
      sender.in_transit -= remaining_[c];
      sender.delivered += remaining_[c];
      Book& b = BookOf(to.uscc, issuer_of_.at(c));
      b.received += remaining_[c];
      b.stock += remaining_[c];
      holdings_[to.uscc].push_back(c);
    }
  }

  // The party of `group` with the most packages in stock.
  const Party& MostStocked(const std::vector<Party>& group) {
    const Party* most = &group[0];
    for (const Party& p : group) {
      if (holdings_[p.uscc].size() > holdings_[most->uscc].size()) most = &p;
    }
    return *most;
  }

  // The first `n` codes `p` holds (in the order it got them).
  std::vector<std::string> Take(const Party& p, size_t n) {
    const std::vector<std::string>& held = holdings_[p.uscc];
    return std::vector<std::string>(held.begin(), held.begin() + std::min(n, held.size()));
  }

  void Consume(const Party& user, const std::string& code, uint64_t milli) {
    v1::Event use = NewEvent(v1::CONSUMING, user.uscc, {code});
    use.set_quantity_milli(milli);
    ASSERT_NO_FATAL_FAILURE(Ok(*user.key, use));
    Book& b = BookOf(user.uscc, issuer_of_.at(code));
    b.consumed += milli;
    b.stock -= milli;
    remaining_[code] -= milli;
    if (remaining_[code] == 0) {
      auto& held = holdings_[user.uscc];
      held.erase(std::find(held.begin(), held.end(), code));
      used_up_.push_back(code);
    }
  }

  // Books that must match: per (enterprise, issuer).
  void ExpectReconciliationMatches(const v1::Reconciliation& r,
                                   const std::map<std::pair<std::string, std::string>, Book>& expected,
                                   const std::map<std::pair<std::string, std::string>, Book>& opening) {
    std::set<std::pair<std::string, std::string>> seen;
    for (const v1::ReconciliationRow& row : r.rows()) {
      if (row.product_number() != "M01") continue;
      const std::pair<std::string, std::string> key{row.enterprise_uscc(), row.product_uscc()};
      seen.insert(key);
      auto it = expected.find(key);
      const Book e = it == expected.end() ? Book() : it->second;
      auto o = opening.find(key);
      const Book open = o == opening.end() ? Book() : o->second;
      const v1::QuantityFigures& f = row.figures();
      SCOPED_TRACE(absl::StrCat(row.enterprise_uscc(), " / ", row.product_uscc()));
      EXPECT_EQ(f.opening_stock_milli(), static_cast<uint64_t>(open.stock));
      EXPECT_EQ(f.opening_in_transit_milli(), static_cast<uint64_t>(open.in_transit));
      EXPECT_EQ(f.produced_milli(), static_cast<uint64_t>(e.produced - open.produced));
      EXPECT_EQ(f.received_milli(), static_cast<uint64_t>(e.received - open.received));
      EXPECT_EQ(f.shipped_milli(), static_cast<uint64_t>(e.shipped - open.shipped));
      EXPECT_EQ(f.delivered_milli(), static_cast<uint64_t>(e.delivered - open.delivered));
      EXPECT_EQ(f.consumed_milli(), static_cast<uint64_t>(e.consumed - open.consumed));
      EXPECT_EQ(f.disposed_milli(), static_cast<uint64_t>(e.disposed - open.disposed));
      EXPECT_EQ(f.lost_milli() + f.lost_in_transit_milli(),
                static_cast<uint64_t>(e.lost - open.lost));
      EXPECT_EQ(f.closing_stock_milli(), static_cast<uint64_t>(e.stock));
      EXPECT_EQ(f.closing_in_transit_milli(), static_cast<uint64_t>(e.in_transit));
      EXPECT_EQ(f.stock_difference_milli(), 0);
      EXPECT_EQ(f.transit_difference_milli(), 0);
      EXPECT_EQ(f.lost_difference_milli(), 0);
      EXPECT_EQ(row.codes_behind_differences_size(), 0);
    }
    // Every book the test kept that moved in the period has its row.
    for (const auto& [key, e] : expected) {
      auto o = opening.find(key);
      const Book open = o == opening.end() ? Book() : o->second;
      const bool moved = e.produced != open.produced || e.received != open.received ||
                         e.shipped != open.shipped || e.consumed != open.consumed ||
                         e.disposed != open.disposed || e.stock != 0 || e.in_transit != 0;
      if (moved) {
        EXPECT_TRUE(seen.count(key)) << key.first << " / " << key.second << " has no row";
      }
    }
  }

  crypto::SigningKey admin_ = TestKey(1);
  crypto::SigningKey regulator_ = TestKey(2);
  std::atomic<int64_t> now_micros_{0};
  std::unique_ptr<TestLedger> t_;
  ledger::LifecycleRules lifecycle_rules_;
  waybill::WaybillRules waybill_rules_;
  std::unique_ptr<RefusalRecorder> recorder_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<waybill::WaybillBook> waybills_;
  std::vector<Party> producers_, warehouses_, users_, disposers_, carriers_;
  std::map<std::pair<std::string, std::string>, Book> books_;
  std::map<std::string, std::vector<std::string>> holdings_;  // in stock, by enterprise
  std::map<std::string, uint64_t> remaining_;
  std::map<std::string, std::string> issuer_of_;
  std::map<std::string, label::Issuance> issuances_;  // by producer
  std::map<std::string, int64_t> carried_;
  std::vector<std::string> used_up_;
  std::set<std::string> lost_waybills_;
  int next_id_ = 0;
};

TEST_F(AuditScenarioTest, AYearOfTradeReconcilesAndEveryInjectedAnomalyIsListed) {
  std::mt19937 rng(20261130);
  const absl::Time start = Now();
  // Issued at once: 1,667 methanol packages per producer (10,002 in all),
  // and five 剧毒 packages (sodium cyanide) at the first producer.
  const uint32_t kPerProducer = 1667;
  std::map<std::string, std::vector<std::string>> to_commission;
  for (const Party& p : producers_) {
    absl::StatusOr<label::Issuance> issued =
        t_->IssueBatch(*p.key, p.uscc, "M01", "Y2026", kPerProducer, "25", "KGM");
    ASSERT_TRUE(issued.ok()) << issued.status();
    issuances_.emplace(p.uscc, *issued);
    for (uint32_t i = 1; i <= kPerProducer; ++i) {
      const std::string code = absl::StrCat(p.uscc, ".M01.Y2026.", i);
      to_commission[p.uscc].push_back(code);
      issuer_of_[code] = p.uscc;
      remaining_[code] = kPackageMilli;
    }
  }
  v1::Product cyanide = registry::testing::ExampleMethanol(producers_[0].uscc, "NACN");
  cyanide.set_name_zh("氰化钠");
  cyanide.set_name_en("Sodium cyanide, solid");
  cyanide.clear_control_flags();
  for (const char* flag : {"剧毒", "重点监管", "高危"}) cyanide.add_control_flags(flag);
  cyanide.set_cas("143-33-9");
  cyanide.set_un_number("1689");
  cyanide.set_hazard_class("6.1");
  cyanide.set_packing_group("I");
  cyanide.set_catalogue_number(1688);
  ASSERT_TRUE(t_->RegisterProduct(admin_, cyanide).ok());
  ASSERT_TRUE(t_->IssueBatch(*producers_[0].key, producers_[0].uscc, "NACN", "T1", 5, "50", "KGM")
                  .ok());
  std::vector<std::string> toxic;
  for (int i = 1; i <= 5; ++i) toxic.push_back(absl::StrCat(producers_[0].uscc, ".NACN.T1.", i));
  ASSERT_NO_FATAL_FAILURE(Ok(*producers_[0].key, NewEvent(v1::COMMISSIONING, producers_[0].uscc, toxic)));

  std::map<std::pair<std::string, std::string>, Book> at_quarter_start, at_quarter_end;
  std::vector<std::string> clone_codes;
  std::string blacklisted, over_consumer;
  for (int month = 0; month < kMonths; ++month) {
    SetNow(start + absl::Hours(24 * 30 * month));
    if (month == 3) at_quarter_start = books_;
    if (month == 6) at_quarter_end = books_;
    // Production: the first four months, a quarter of each producer's labels.
    if (month < 4) {
      for (const Party& p : producers_) {
        std::vector<std::string>& pending = to_commission[p.uscc];
        const size_t n = month == 3 ? pending.size() : kPerProducer / 4;
        std::vector<std::string> codes(pending.begin(), pending.begin() + n);
        pending.erase(pending.begin(), pending.begin() + n);
        ASSERT_NO_FATAL_FAILURE(Ok(*p.key, NewEvent(v1::COMMISSIONING, p.uscc, codes)));
        for (const std::string& c : codes) {
          Book& b = BookOf(p.uscc, p.uscc);
          b.produced += kPackageMilli;
          b.stock += kPackageMilli;
          holdings_[p.uscc].push_back(c);
        }
      }
    }
    // Producers ship to warehouses, users and disposers anywhere.
    for (size_t i = 0; i < producers_.size(); ++i) {
      const Party& from = producers_[i];
      for (int k = 0; k < 3; ++k) {
        if (holdings_[from.uscc].size() < 40) break;
        const std::vector<Party>* group =
            k == 0 ? &warehouses_ : k == 1 ? &users_ : &disposers_;
        const Party* to = &(*group)[rng() % group->size()];
        if (to->uscc == blacklisted) to = &warehouses_[0];
        const Party& carrier = carriers_[rng() % carriers_.size()];
        // Injected: two shipments lost on the road, in months 8 and 9.
        const bool lose = (month == 8 || month == 9) && i == 0 && k == 0;
        ASSERT_NO_FATAL_FAILURE(Ship(from, *to, carrier, Take(from, k == 2 ? 10 : 40), lose));
      }
    }
    // Warehouses pass goods on to users.
    for (const Party& w : warehouses_) {
      if (holdings_[w.uscc].size() < 20) continue;
      const Party* to = &users_[rng() % users_.size()];
      if (to->uscc == blacklisted) continue;
      ASSERT_NO_FATAL_FAILURE(
          Ship(w, *to, carriers_[rng() % carriers_.size()], Take(w, 20)));
    }
    // Users use part of some packages and the whole of others.
    for (const Party& u : users_) {
      if (u.uscc == blacklisted) continue;
      std::vector<std::string> held = Take(u, 30);
      for (size_t j = 0; j < held.size(); ++j) {
        const uint64_t left = remaining_[held[j]];
        ASSERT_NO_FATAL_FAILURE(Consume(u, held[j], j % 3 == 0 ? left : std::min<uint64_t>(left, 10000)));
      }
    }
    // Disposers destroy what they received, with the transfer manifest.
    for (const Party& d : disposers_) {
      std::vector<std::string> held = holdings_[d.uscc];
      if (held.empty()) continue;
      v1::Event destroy = NewEvent(v1::DESTROYING, d.uscc, held);
      destroy.set_manifest_id(absl::StrCat("35010020260", month, "00", next_id_));
      ASSERT_NO_FATAL_FAILURE(Ok(*d.key, destroy));
      for (const std::string& c : held) {
        Book& b = BookOf(d.uscc, issuer_of_.at(c));
        b.disposed += remaining_[c];
        b.stock -= remaining_[c];
        remaining_[c] = 0;
      }
      holdings_[d.uscc].clear();
    }
    // Injected faults.
    if (month == 2) {  // a user tries to use more than a drum holds
      const Party& u = MostStocked(users_);
      over_consumer = u.uscc;
      std::vector<std::string> held = Take(u, 1);
      ASSERT_FALSE(held.empty());
      v1::Event use = NewEvent(v1::CONSUMING, u.uscc, held);
      use.set_quantity_milli(remaining_[held[0]] + 1000);
      ASSERT_EQ(Append(*u.key, use).code(), absl::StatusCode::kFailedPrecondition);
    }
    if (month == 4) {  // a disposer destroys without the manifest
      const Party& d = disposers_[0];
      ASSERT_NO_FATAL_FAILURE(Ship(producers_[1], d, carriers_[0], Take(producers_[1], 5)));
      v1::Event destroy = NewEvent(v1::DESTROYING, d.uscc, holdings_[d.uscc]);
      ASSERT_EQ(Append(*d.key, destroy).code(), absl::StatusCode::kInvalidArgument);
    }
    if (month == 5) {  // a used-up drum scanned at a warehouse: a clone?
      ASSERT_FALSE(used_up_.empty());
      clone_codes.push_back(used_up_.front());
      // Someone else's package: observed with the label scanned from it.
      v1::Event seen = NewEvent(v1::OBSERVING, warehouses_[4].uscc, {used_up_.front()});
      const std::string& code = used_up_.front();
      uint32_t serial = 0;
      ASSERT_TRUE(absl::SimpleAtoi(code.substr(code.rfind('.') + 1), &serial));
      absl::StatusOr<std::vector<label::IssuedLabel>> label =
          t_->issuer().SignLabels(issuances_.at(issuer_of_.at(code)), serial - 1, 1);
      ASSERT_TRUE(label.ok() && label->size() == 1) << label.status();
      seen.add_label_urls(label->front().url);
      ASSERT_NO_FATAL_FAILURE(Ok(*warehouses_[4].key, seen));
    }
    if (month == 6) {  // two drums of sodium cyanide gone
      v1::Event loss = NewEvent(v1::LOSS_REPORT, producers_[0].uscc, {toxic[0], toxic[1]});
      loss.set_reason("盘点发现缺失");
      ASSERT_NO_FATAL_FAILURE(Ok(*producers_[0].key, loss));
    }
    if (month == 7) {  // a user blacklisted, then its operator tries to act
      const Party& u = MostStocked(users_);
      blacklisted = u.uscc;
      v1::RegistryRequest r;
      v1::BlacklistChange* b = r.mutable_blacklist();
      b->set_enterprise_uscc(u.uscc);
      b->set_blacklisted(true);
      b->set_reason("违规储存");
      *b->mutable_date() = api::ToProtoDate(api::ChinaDay(Now()));
      ASSERT_TRUE(t_->Registry(admin_, r).ok());
      std::vector<std::string> held = Take(u, 1);
      ASSERT_FALSE(held.empty());
      v1::Event use = NewEvent(v1::CONSUMING, u.uscc, held);
      use.set_quantity_milli(1000);
      ASSERT_EQ(Append(*u.key, use).code(), absl::StatusCode::kPermissionDenied);
    }
  }
  // The disposer's five drums (the refused disposal) are still in its
  // stock... unless the next month's disposal took them: booked above.
  recorder_->Flush();
  SetNow(start + absl::Hours(24 * 30 * kMonths));
  ASSERT_GE(issuer_of_.size(), 10000u);
  const std::shared_ptr<const storage::Snapshot> snapshot = t_->snapshot();
  absl::StatusOr<std::optional<state::ActorRecord>> regulator =
      registry::FindActor(*snapshot, regulator_.key_id());
  ASSERT_TRUE(regulator.ok() && regulator->has_value());
  const v1::Actor reader = (*regulator)->actor();

  // The whole year, every enterprise, methanol only (the CAS).
  v1::ReconcileRequest year;
  year.set_cas("67-56-1");
  absl::StatusOr<v1::Reconciliation> r = Reconcile(*snapshot, reader, year);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->checked_against_package_states());
  ASSERT_NO_FATAL_FAILURE(ExpectReconciliationMatches(*r, books_, {}));
  int64_t produced = 0;
  for (const auto& [key, b] : books_) produced += b.produced;
  EXPECT_EQ(produced, int64_t{6} * kPerProducer * kPackageMilli);
  // Every enterprise that held methanol has its books compared.
  EXPECT_GE(r->rows_size(), 20);
  int64_t consumed = 0, disposed = 0;
  for (const v1::ReconciliationRow& row : r->rows()) {
    consumed += row.figures().consumed_milli();
    disposed += row.figures().disposed_milli();
  }
  EXPECT_GT(consumed, 0);
  EXPECT_GT(disposed, 0);
  ASSERT_EQ(r->totals_size(), 1);
  EXPECT_EQ(r->totals(0).figures().produced_milli(), static_cast<uint64_t>(produced));
  for (const v1::CarrierFigures& c : r->carriers()) {
    EXPECT_EQ(static_cast<int64_t>(c.shipped_milli()), carried_[c.carrier_uscc()]) << c.carrier_uscc();
  }
  EXPECT_EQ(r->carriers_size(), 2);

  // One quarter (months 3 to 5): opening stock and the quarter's movements.
  v1::ReconcileRequest quarter = year;
  quarter.mutable_from()->set_seconds(absl::ToUnixSeconds(start + absl::Hours(24 * 30 * 3)));
  quarter.mutable_to()->set_seconds(absl::ToUnixSeconds(start + absl::Hours(24 * 30 * 6)));
  absl::StatusOr<v1::Reconciliation> q = Reconcile(*snapshot, reader, quarter);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_NO_FATAL_FAILURE(ExpectReconciliationMatches(*q, at_quarter_end, at_quarter_start));

  // One region (福建): only its enterprises' rows.
  v1::ReconcileRequest fujian = year;
  fujian.set_region_prefix("35");
  absl::StatusOr<v1::Reconciliation> f = Reconcile(*snapshot, reader, fujian);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_FALSE(f->rows().empty());
  for (const v1::ReconciliationRow& row : f->rows()) {
    EXPECT_EQ(row.enterprise_uscc().substr(2, 2), "35") << row.enterprise_uscc();
  }

  // The anomalies: exactly those injected.
  std::multiset<std::string> listed;
  v1::ListAnomaliesRequest request;
  for (int pages = 0; pages < 100; ++pages) {
    absl::StatusOr<v1::Anomalies> page = ListAnomalies(*snapshot, reader, request, Now());
    ASSERT_TRUE(page.ok()) << page.status();
    if (pages == 0) {
      for (const v1::Anomaly& a : page->overdue_shipments()) {
        listed.insert(absl::StrCat("OVERDUE_SHIPMENT ", a.waybill()));
      }
    }
    for (const v1::Anomaly& a : page->anomalies()) {
      switch (a.kind()) {
        case v1::REFUSED_REQUEST:
          listed.insert(absl::StrCat("REFUSED_REQUEST ", v1::RefusalKind_Name(a.refusal_kind()),
                                     " ", a.enterprise_uscc()));
          break;
        default:
          listed.insert(absl::StrCat(v1::AnomalyKind_Name(a.kind()), " ", a.code()));
      }
    }
    if (page->next_after_log_index() == 0) break;
    request.set_after_log_index(page->next_after_log_index());
  }
  std::multiset<std::string> injected = {
      absl::StrCat("REFUSED_REQUEST OVER_CONSUMPTION ", over_consumer),
      absl::StrCat("REFUSED_REQUEST DISPOSAL_WITHOUT_MANIFEST ", disposers_[0].uscc),
      absl::StrCat("CLONE_SIGNAL ", clone_codes[0]),
      absl::StrCat("CONTROLLED_GOODS_LOST ", toxic[0]),
      absl::StrCat("CONTROLLED_GOODS_LOST ", toxic[1]),
      absl::StrCat("REFUSED_REQUEST BLACKLISTED_ENTERPRISE ", blacklisted),
  };
  for (const std::string& w : lost_waybills_) injected.insert("OVERDUE_SHIPMENT " + w);
  EXPECT_EQ(listed, injected);
  EXPECT_EQ(lost_waybills_.size(), 2u);

  // 交通运输 reads every waybill and no packages: of the anomalies, the
  // overdue shipments alone. 生态环境 reads those carrying waste (none here).
  const auto anomalies_for = [&](v1::Department department) {
    v1::Actor regulator = reader;
    regulator.set_department(department);
    return ListAnomalies(*snapshot, regulator, v1::ListAnomaliesRequest(), Now());
  };
  absl::StatusOr<v1::Anomalies> by_transport = anomalies_for(v1::TRANSPORT);
  ASSERT_TRUE(by_transport.ok()) << by_transport.status();
  EXPECT_TRUE(by_transport->anomalies().empty());
  std::multiset<std::string> overdue;
  for (const v1::Anomaly& a : by_transport->overdue_shipments()) overdue.insert(a.waybill());
  EXPECT_EQ(overdue, std::multiset<std::string>(lost_waybills_.begin(), lost_waybills_.end()));
  absl::StatusOr<v1::Anomalies> by_ecology = anomalies_for(v1::ECOLOGY_ENVIRONMENT);
  ASSERT_TRUE(by_ecology.ok()) << by_ecology.status();
  EXPECT_TRUE(by_ecology->anomalies().empty());
  EXPECT_TRUE(by_ecology->overdue_shipments().empty());
}

}  // namespace
}  // namespace chemledger::audit
