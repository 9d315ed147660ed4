#include "net/auth.h"

#include <fstream>
#include <set>
#include <sstream>

namespace seedtune {

StatusOr<ClientTokens> ParseClientTokens(const std::string& text, int clients, const std::string& name) {
  ClientTokens tokens;
  std::set<int> ids;
  std::istringstream in(text);
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    std::istringstream fields(line);
    std::string id_text, token, extra;
    if (!(fields >> id_text) || id_text[0] == '#') continue;
    if (!(fields >> token) || (fields >> extra))
      return InvalidArgument("{}:{}: expected \"client-id token\"", name, lineno);
    int id = -1;
    try {
      size_t used = 0;
      id = std::stoi(id_text, &used);
      if (used != id_text.size()) id = -1;
    } catch (const std::exception&) {
      id = -1;
    }
    if (id < 0 || id >= clients)
      return InvalidArgument("{}:{}: client id '{}' is not in [0, {})", name, lineno, id_text, clients);
    if (!ids.insert(id).second) return InvalidArgument("{}:{}: client {} has a second token", name, lineno, id);
    if (!tokens.emplace(token, id).second) return InvalidArgument("{}:{}: a token is used twice", name, lineno);
  }
  if (tokens.empty()) return InvalidArgument("{}: no tokens", name);
  return tokens;
}

StatusOr<ClientTokens> ReadClientTokens(const std::string& path, int clients) {
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  return ParseClientTokens(text, clients, path);
}

grpc::Status AuthenticateCall(const grpc::ServerContext& context, const ClientTokens& tokens, int* client) {
  *client = -1;
  if (tokens.empty()) return grpc::Status::OK;
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end())
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this coordinator requires a bearer token (metadata \"authorization: Bearer <token>\"; "
                        "seedtune client --token)");
  const std::string value(it->second.data(), it->second.size());
  const std::string prefix = "Bearer ";
  if (value.compare(0, prefix.size(), prefix) != 0)
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "authorization metadata is not \"Bearer <token>\"");
  auto tok = tokens.find(value.substr(prefix.size()));
  if (tok == tokens.end()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown bearer token");
  *client = tok->second;
  return grpc::Status::OK;
}

StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("{}: cannot open", path);
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return IoError("{}: read failed", path);
  return s.str();
}

StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const std::string& cert_path,
                                                                        const std::string& key_path) {
  if (cert_path.empty() && key_path.empty()) return grpc::InsecureServerCredentials();
  if (cert_path.empty() || key_path.empty()) return InvalidArgument("TLS needs both a certificate and a key");
  grpc::SslServerCredentialsOptions opts;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadTextFile(cert_path));
  ASSIGN_OR_RETURN(pair.private_key, ReadTextFile(key_path));
  opts.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(opts);
}

StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const std::string& ca_path) {
  if (ca_path.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions opts;
  ASSIGN_OR_RETURN(opts.pem_root_certs, ReadTextFile(ca_path));
  return grpc::SslCredentials(opts);
}

}  // namespace seedtune
