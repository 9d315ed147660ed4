#include "net/auth.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <set>
#include <sstream>

#include "core/mapped_file.h"

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
  // Refuses a FIFO, directory or device by type (core/mapped_file.h).
  return ReadFileToString(path);
}

namespace {

// OpenSSL's error queue as text, emptied (the last error names the cause).
std::string SslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out = buf;
  }
  return out.empty() ? "no PEM data" : out;
}

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
Bio MemoryBio(const std::string& pem) { return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free); }

// Parses every certificate in `pem`; the first one is returned (the leaf of
// a chain). gRPC would only fail later, at bind or handshake time, with an
// error that names the address instead of the file.
StatusOr<std::unique_ptr<X509, decltype(&X509_free)>> ReadCertificates(const std::string& pem, const std::string& path,
                                                                       const char* what) {
  ERR_clear_error();
  Bio bio = MemoryBio(pem);
  std::unique_ptr<X509, decltype(&X509_free)> first(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!first) return InvalidArgument("{}: not a PEM {} ({})", path, what, SslError());
  while (X509* more = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) X509_free(more);
  ERR_clear_error();  // the end of the chain reads as an error
  return first;
}

}  // namespace

StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const std::string& cert_path,
                                                                        const std::string& key_path) {
  if (cert_path.empty() && key_path.empty()) return grpc::InsecureServerCredentials();
  if (cert_path.empty() || key_path.empty())
    return InvalidArgument("TLS needs both a certificate (--tls-cert) and a key (--tls-key)");
  grpc::SslServerCredentialsOptions opts;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadTextFile(cert_path));
  ASSIGN_OR_RETURN(pair.private_key, ReadTextFile(key_path));
  ASSIGN_OR_RETURN(auto cert, ReadCertificates(pair.cert_chain, cert_path, "certificate"));
  ERR_clear_error();
  Bio key_bio = MemoryBio(pair.private_key);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) return InvalidArgument("{}: not a PEM private key ({})", key_path, SslError());
  if (X509_check_private_key(cert.get(), key.get()) != 1)
    return InvalidArgument("{}: the private key does not match the certificate {} ({})", key_path, cert_path,
                           SslError());
  opts.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(opts);
}

StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const std::string& ca_path) {
  if (ca_path.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions opts;
  ASSIGN_OR_RETURN(opts.pem_root_certs, ReadTextFile(ca_path));
  RETURN_IF_ERROR(ReadCertificates(opts.pem_root_certs, ca_path, "CA certificate").status());
  return grpc::SslCredentials(opts);
}

}  // namespace seedtune
