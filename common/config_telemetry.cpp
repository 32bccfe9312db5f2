// /vnf/history, /vnf/confirm_timer, /vnf/confirm, /vnf/rollback: the appliance's side of
// vnfctl history, apply --confirm, confirm and rollback (common/config_control.h).
#include <chrono>
#include <string>

#include "common/config_control.h"
#include "common/telemetry.h"

namespace vnf {

namespace {

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// A decimal number of at most 9 digits, or nullopt.
std::optional<uint64_t> number(const std::string& s) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(s);
}

int answer(rte_tel_data* d, const std::string& error, const char* ok_result, uint64_t version) {
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_string(d, "result", error.empty() ? ok_result : "refused");
  if (error.empty())
    rte_tel_data_add_dict_u64(d, "version", version);
  else
    rte_tel_data_add_dict_string(d, "error", error.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
  return 0;
}

}  // namespace

void ConfigControl::register_telemetry() {
  telemetry::add(
      "/vnf/history", "Kept config versions: version, time, uid, hash, bytes; the current one",
      [this](const std::string&, rte_tel_data* d) {
        rte_tel_data_start_dict(d);
        std::lock_guard lock(mu_);
        rte_tel_data_add_dict_string(d, "config_path", config_path_.c_str());
        rte_tel_data_add_dict_string(d, "state_dir", dir_ ? dir_->path().c_str() : "");
        rte_tel_data_add_dict_u64(d, "keep", dir_ ? dir_->keep() : 0);
        rte_tel_data_add_dict_u64(d, "current", current_);
        const uint64_t now = now_ms();
        rte_tel_data_add_dict_u64(d, "confirm_rollback_to",
                                  confirm_deadline_ms_ ? rollback_to_ : 0);
        rte_tel_data_add_dict_u64(d, "confirm_left_ms",
                                  confirm_deadline_ms_ > now ? confirm_deadline_ms_ - now : 0);
        if (!dir_) return 0;
        for (const auto& v : dir_->list()) {
          rte_tel_data* c = telemetry::new_dict();
          rte_tel_data_add_dict_u64(c, "version", v.version);
          rte_tel_data_add_dict_u64(c, "generation", v.generation);
          rte_tel_data_add_dict_string(c, "time", v.time.c_str());
          rte_tel_data_add_dict_int(c, "uid", static_cast<int>(v.uid));
          rte_tel_data_add_dict_string(c, "via", v.via.c_str());
          rte_tel_data_add_dict_string(c, "hash", v.hash.c_str());
          rte_tel_data_add_dict_u64(c, "bytes", v.bytes);
          rte_tel_data_add_dict_int(c, "current", v.version == current_ ? 1 : 0);
          rte_tel_data_add_dict_container(d, ("v" + std::to_string(v.version)).c_str(), c, 0);
        }
        return 0;
      });
  telemetry::add("/vnf/confirm_timer",
                 "Param: SECONDS. The next SIGHUP applies on trial: unconfirmed, it is undone",
                 [this](const std::string& params, rte_tel_data* d) {
                   const auto s = number(params);
                   const std::string err =
                       s ? arm_confirm(static_cast<unsigned>(*s), now_ms()) : "param: SECONDS";
                   return answer(d, err, "armed", current());
                 });
  telemetry::add("/vnf/confirm", "Keeps the config applied on trial (stops the confirm timer)",
                 [this](const std::string&, rte_tel_data* d) {
                   uint64_t v = 0;
                   // The telemetry socket is root's alone.
                   const std::string err = confirm(v, Requester{0, 0, "telemetry"});
                   return answer(d, err, "confirmed", v);
                 });
  telemetry::add("/vnf/rollback",
                 "Param: [VERSION] (default: the previous). The next SIGHUP restores it",
                 [this](const std::string& params, rte_tel_data* d) {
                   auto v = params.empty() ? std::optional<uint64_t>(0) : number(params);
                   if (!v) return answer(d, "param: a version number", "", 0);
                   uint64_t version = *v;
                   const std::string err = request_rollback(version, now_ms());
                   return answer(d, err, "pending", version);
                 });
}

}  // namespace vnf
