(ns hello.core (:gen-class))
(defn -main [] (println "hi"))
