#include "common/app.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include <boost/program_options.hpp>

namespace vnf {

namespace po = boost::program_options;

namespace {

std::vector<unsigned> parse_lcores(const std::string& s) {
  std::vector<unsigned> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t pos = 0;
    const unsigned long v = std::stoul(item, &pos);
    if (pos != item.size()) throw std::invalid_argument(item);
    out.push_back(static_cast<unsigned>(v));
  }
  if (out.size() < 2) throw std::invalid_argument("need a main lcore and at least one worker");
  return out;
}

}  // namespace

std::optional<ProgramOptions> parse_options(int argc, char** argv, const std::string& program,
                                            const std::string& summary, int& exit_code) {
  ProgramOptions o;
  // Everything after "--" goes to rte_eal_init untouched.
  int own = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      own = i;
      for (int j = i + 1; j < argc; ++j) o.eal.extra.emplace_back(argv[j]);
      break;
    }
  }
  po::options_description desc(fmt::format(
      "{}\n\nUsage: {} -c FILE [options] [-- EAL options]\n\nOptions", summary, program));
  std::string lcores;
  desc.add_options()("help,h", "show this help")("version", "show the version")(
      "config,c", po::value(&o.config)->value_name("FILE"), "appliance YAML file (required)")(
      "check", po::bool_switch(&o.check), "validate the config file and exit (0: valid)")(
      "no-huge", po::bool_switch(&o.eal.no_huge),
      "run without hugepages (overrides engine.hugepages)")(
      "file-prefix", po::value(&o.eal.file_prefix)->value_name("NAME"),
      "DPDK file prefix (default vnf-<engine.name>); the telemetry socket is "
      "/var/run/dpdk/NAME/dpdk_telemetry.v2")("lcores", po::value(&lcores)->value_name("LIST"),
                                              "lcores, main first: 0,1 (overrides engine.lcores)")(
      "log-level", po::value(&o.log_level)->value_name("LEVEL"), "trace|debug|info|warn|error")(
      "pid-file", po::value(&o.pid_file)->value_name("FILE"), "write the process id here")(
      "state-dir", po::value(&o.state_dir)->value_name("DIR"),
      "keep every applied config here (default /var/lib/vnf/<engine.name>; root only)")(
      "keep-versions", po::value(&o.keep_versions)->value_name("N"),
      "config versions kept in the state directory (default 20, at least 2)")(
      "control-socket", po::value(&o.control_socket)->value_name("PATH"),
      "vnfctl's unix socket (default /run/vnf/<engine.name>.sock; 'none': no socket)")(
      "admin-group", po::value(&o.admin_group)->value_name("GROUP"),
      "group allowed to apply, reload, confirm, roll back (default vnf-admin)")(
      "read-group", po::value(&o.read_group)->value_name("GROUP"),
      "group allowed to read: show, history, diff (default vnf-read)");
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(own, argv).options(desc).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      exit_code = 0;
      return std::nullopt;
    }
    if (vm.count("version")) {
      std::cout << program << " " << VNF_VERSION << "\n";
      exit_code = 0;
      return std::nullopt;
    }
    if (o.config.empty()) throw po::error("the option '--config' is required");
    if (!lcores.empty()) o.eal.lcores = parse_lcores(lcores);
    if (o.keep_versions < 2 || o.keep_versions > 10000)
      throw po::error("--keep-versions: 2 to 10000");
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n(see " << program << " --help)\n";
    exit_code = 2;
    return std::nullopt;
  }
  return o;
}

void block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int open_signalfd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return signalfd(-1, &set, SFD_CLOEXEC);
}

std::unique_ptr<ConfigControl> open_config_control(const ProgramOptions& opts,
                                                   const std::string& instance) {
  const std::string dir = opts.state_dir.empty() ? "/var/lib/vnf/" + instance : opts.state_dir;
  std::error_code ec;
  std::string path = std::filesystem::absolute(opts.config, ec).string();
  if (ec) path = opts.config;
  try {
    return std::make_unique<ConfigControl>(std::make_unique<StateDir>(dir, opts.keep_versions),
                                           path);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("--state-dir: {}", e.what()));
  }
}

std::unique_ptr<ControlSocket> open_control_socket(const ProgramOptions& opts,
                                                   const std::string& instance) {
  if (opts.control_socket == "none") {
    spdlog::warn("no control socket (--control-socket none): only root can use vnfctl");
    return nullptr;
  }
  const std::string path =
      opts.control_socket.empty() ? "/run/vnf/" + instance + ".sock" : opts.control_socket;
  auto s = std::make_unique<ControlSocket>(
      path, resolve_access_groups(opts.admin_group, opts.read_group),
      std::string(rte_eal_get_runtime_dir()) + "/dpdk_telemetry.v2");
  s->register_telemetry();
  return s;
}

std::string control_answer(const ConfigAudit& audit, uint64_t attempts_before,
                           const std::string& config_path, uint64_t version) {
  std::string out = "{\"config_path\": " + json_string(config_path);
  if (version) out += fmt::format(", \"version\": {}", version);
  if (audit.attempts() == attempts_before)
    return out + ", \"error\": \"no reload happened (see the appliance's log)\"}";
  const ApplyRecord r = audit.last();
  return out + fmt::format(", \"result\": {}, \"generation\": {}, \"hash\": {}, \"detail\": {}}}",
                           json_string(r.ok ? "applied" : "rejected"), r.generation,
                           json_string(r.hash), json_string(r.detail));
}

void write_pid_file(const std::string& path) {
  if (path.empty()) return;
  // A fresh file (O_EXCL: never an existing file, O_NOFOLLOW: never through a link) renamed
  // over the final name, in a directory nobody else can write to: otherwise another user
  // could swap the file for a link between any check and the write.
  try {
    write_file_atomic(path, fmt::format("{}\n", ::getpid()), 0644, /*private_dir=*/true);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("--pid-file {}", e.what()));
  }
}

}  // namespace vnf
